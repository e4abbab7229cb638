/**
 * Experiment scripts' scoring of lesion maps by evaluation's own rules (candidates as the viewer cuts them,
 * sensitivity at 1 FP/image over all images, findings per lesion-free image, image AUROC of the detector's
 * lesion score, Dice), for maps the scripts make themselves (averaged across models, or of shifted images).
 */
import { SampleCache, validRegion, type Letterbox } from '../../main/datasets/index.ts';
import { lesionScore } from '../../main/detector/postprocess.ts';
import { connectedComponents } from '../../main/evaluation/components.ts';
import { imageCandidates, imageLesionMap, upsample } from '../../main/evaluation/maps.ts';
import { auroc, fpPerNegative, froc, overlap, sensitivityAt, THRESHOLDS, type GroundTruth } from '../../main/evaluation/metrics.ts';

export interface Truth {
  gt: GroundTruth;
  mask: Uint8Array;
  box: Letterbox;
  lesion: boolean;
}

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
 * One row of figures for S/4 maps (`side` cells a side) of images `size` pixels a side: Dice at `diceAt`,
 * image AUROC, and "sensitivity at 1 FP/image @ findings per lesion-free image" per candidate threshold.
 */
export function scoreMaps(maps: readonly Float32Array[], truth: readonly Truth[], side: number, size: number, options: { diceAt?: number; thresholds?: readonly number[] } = {}): Record<string, number | string | null> {
  const lesionImage = truth.map((t) => t.lesion);
  const peaks = maps.map((m, i) => lesionScore(imageLesionMap(m, side, truth[i].box)));
  let dice = 0;
  for (let i = 0; i < maps.length; i++) {
    if (!truth[i].lesion) continue;
    dice += overlap(upsample(maps[i], side, side, size, size), truth[i].mask, options.diceAt ?? 0.5, validRegion(truth[i].box)).dice;
  }
  const auc = auroc(peaks.filter((_, i) => lesionImage[i]), peaks.filter((_, i) => !lesionImage[i]));
  const row: Record<string, number | string | null> = { dice: +(dice / Math.max(1, lesionImage.filter(Boolean).length)).toFixed(3), auroc: auc === null ? null : +auc.toFixed(3) };
  for (const t of options.thresholds ?? THRESHOLDS.filter((x) => x >= 0.5)) {
    const im = maps.map((m, i) => ({ gt: truth[i].gt, predictions: imageCandidates(m, side, truth[i].box, t) }));
    row[`t${t}`] = `${sensitivityAt(froc(im), 1).toFixed(3)} @ ${fpPerNegative(im.map((x) => x.predictions.length), lesionImage).toFixed(3)}`;
  }
  return row;
}
