/**
 * Would averaging two or more shipped models' lesion maps find more lesions at the same quiet on normal
 * frames? Scores each model alone and each combination on the same images (the first model's split),
 * every map resampled to the first model's S/4 grid, by evaluation's own rules (candidates, FROC over all
 * images, findings per lesion-free image, image AUROC of the map peak, Dice).
 *
 *   npx tsx scripts/ensemble-experiment.ts --models kvasir-cbam-neg,kvasir-baseline-neg \
 *     --data ../shared/data/kvasir-seg --negatives ../shared/data/hyperkvasir-normal --split val
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { openDataset, SampleCache } from '../main/datasets/index.ts';
import { loadModel, readCard } from '../main/detector/io.ts';
import { predict } from '../main/detector/pipeline.ts';
import { TfjsDetector } from '../main/detector/tfjs-detector.ts';
import { useBackend } from '../main/detector/kernels/backend.ts';
import { splitFor } from '../main/evaluation/evaluate.ts';
import { imageCandidates, upsample } from '../main/evaluation/maps.ts';
import { lesionsHit } from '../main/evaluation/metrics.ts';
import { scoreMaps, truthOf } from './lib/map-scores.ts';
import type { SplitName } from '../main/datasets/index.ts';

const { values } = parseArgs({ options: { models: { type: 'string' }, data: { type: 'string' }, negatives: { type: 'string' }, split: { type: 'string', default: 'val' }, root: { type: 'string', default: 'models' } } });
const names = (values.models ?? '').split(',').filter(Boolean);
if (names.length < 2 || !values.data) throw new Error('--models a,b[,c] and --data are required');
await useBackend();
const dirs = names.map((n) => (n.includes('/') ? n : join(values.root as string, n)));
const dataset = await openDataset(values.data, 'masks', { negatives: values.negatives ? [values.negatives] : undefined });
const ids = splitFor(dirs[0], values.data, dataset.samples).split[values.split as SplitName];
const byId = new Map(dataset.samples.map((s) => [s.id, s]));
const size0 = readCard(dirs[0]).inputSize;
const s4 = size0 / 4;

// maps[m][i]: model m's lesion map of image i on the first model's S/4 grid.
const maps: Float32Array[][] = [];
for (const dir of dirs) {
  const card = readCard(dir);
  const detector = new TfjsDetector(await loadModel(dir));
  const cache = new SampleCache(byId, card.inputSize);
  const out: Float32Array[] = [];
  for (let i = 0; i < ids.length; i++) {
    const d = await cache.get(ids[i]);
    const [r] = await predict(detector, [d.image], { flips: 'hv' });
    const side = card.inputSize / 4;
    const prob = r.data[0];
    out.push(side === s4 ? Float32Array.from(prob) : upsample(prob, side, side, s4, s4));
    if (i % 50 === 0) process.stderr.write(`${dir} ${i}/${ids.length}\n`);
  }
  detector.dispose();
  maps.push(out);
}

const cache0 = new SampleCache(byId, size0);
const truth = await truthOf(cache0, ids);

function score(label: string, members: number[]): void {
  const combined = ids.map((_, i) => {
    const m = new Float32Array(s4 * s4);
    for (const k of members) for (let j = 0; j < m.length; j++) m[j] += maps[k][i][j] / members.length;
    return m;
  });
  console.log(JSON.stringify({ ensemble: label, split: values.split, images: ids.length, negatives: truth.filter((t) => !t.lesion).length, ...scoreMaps(combined, truth, s4, size0) }));
}

names.forEach((n, k) => score(n, [k]));
for (let a = 0; a < names.length; a++) for (let b = a + 1; b < names.length; b++) score(`${names[a]}+${names[b]}`, [a, b]);
if (names.length > 2) score(names.join('+'), names.map((_, k) => k));

// Why the lesions no candidate hits are missed, for the first model at 0.5: the lesion's area, the map's
// highest value over it, and whether some candidate box overlaps it.
if (process.env.MISSES) {
  for (let i = 0; i < ids.length; i++) {
    const full = upsample(maps[0][i], s4, s4, size0, size0);
    const preds = imageCandidates(maps[0][i], s4, truth[i].box, Number(process.env.MISSES));
    const { gt } = truth[i];
    const hit = new Set(preds.flatMap((p) => lesionsHit(p, gt)));
    gt.components.forEach((c, k) => {
      if (hit.has(k)) return;
      let max = 0;
      for (let j = 0; j < gt.labels.length; j++) if (gt.labels[j] === k + 1 && full[j] > max) max = full[j];
      const overlapping = preds.filter((p) => p.box[0] < c.box[2] && p.box[2] > c.box[0] && p.box[1] < c.box[3] && p.box[3] > c.box[1]);
      console.log(JSON.stringify({ id: ids[i], lesions: gt.components.length, area: c.area, box: c.box, mapMax: +max.toFixed(2), candidates: preds.length, overlapping: overlapping.map((p) => ({ box: p.box.map(Math.round), score: +p.score.toFixed(2) })) }));
    });
  }
}
