/**
 * Experiment scripts' scoring of lesion maps by evaluation's own rules (candidates as the viewer cuts them,
 * sensitivity at 1 FP/image over all images, findings per lesion-free image, image AUROC of the detector's
 * lesion score, Dice), for maps the scripts make themselves (averaged across models, or of shifted images).
 */
import type { SampleCache } from '../../main/datasets/index.ts';
import { connectedComponents } from '../../main/evaluation/components.ts';
import { mapFigures, type ScoredImage } from '../../main/evaluation/evaluate.ts';
import { THRESHOLDS } from '../../main/evaluation/metrics.ts';

/** An image as evaluation scores maps of it (evaluate.ts ScoredImage). */
export type Truth = ScoredImage;

/** Each image's lesions (components of at least 10 pixels, as evaluation counts them), at `cache`'s size. */
export async function truthOf(cache: SampleCache, ids: readonly string[]): Promise<Truth[]> {
  const out: Truth[] = [];
  for (const id of ids) {
    const d = await cache.get(id);
    out.push({ gt: connectedComponents(d.mask, cache.size, cache.size, 0.5, 10), mask: d.mask, box: d.box, lesion: d.mask.some((v) => v > 0) });
  }
  return out;
}

/**
 * One row of figures for S/4 maps (`side` cells a side) of images `size` pixels a side, by evaluation's
 * `mapFigures`: Dice at `diceAt`, image AUROC, and "sensitivity at 1 FP/image @ findings per lesion-free
 * image" per candidate threshold.
 */
export function scoreMaps(maps: readonly Float32Array[], truth: readonly Truth[], side: number, size: number, options: { diceAt?: number; thresholds?: readonly number[] } = {}): Record<string, number | string | null> {
  const at = (candidateThreshold: number) => mapFigures(maps, truth, { side, size, threshold: options.diceAt ?? 0.5, candidateThreshold });
  const thresholds = options.thresholds ?? THRESHOLDS.filter((x) => x >= 0.5);
  const first = at(thresholds[0] ?? 0.5);
  const row: Record<string, number | string | null> = { dice: +first.dice.toFixed(3), auroc: first.imageAUROC === null ? null : +first.imageAUROC.toFixed(3) };
  for (const t of thresholds) {
    const f = t === thresholds[0] ? first : at(t);
    row[`t${t}`] = `${f.sensitivity1FP.toFixed(3)} @ ${(f.fpPerNegativeImage ?? 0).toFixed(3)}`;
  }
  return row;
}
