/**
 * How a model's figures move when its held-out frames look as another hospital's camera would render them:
 * each transform below is applied to every frame of the split (lesion-free ones too: a device renders
 * normal tissue the same way), and the frames are scored by evaluation's rules at the model's own
 * thresholds and flips. The transforms are fixed, and most lie outside the training augmentation's ranges
 * (the 'devices' preset: gains within 15%, saturation 0.7–1.3, gamma 0.8–1.25), so a model is not scored on
 * the distribution it was trained on.
 *
 *   npx tsx scripts/shift-experiment.ts --models kvasir-cbam-neg,.studio/train/x \
 *     --data ../shared/data/kvasir-seg --negatives ../shared/data/hyperkvasir-normal --split val
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { openDataset, SampleCache } from '../main/datasets/index.ts';
import { loadModel, readCard } from '../main/detector/io.ts';
import { isFlipSet } from '../main/detector/flips.ts';
import { predict } from '../main/detector/pipeline.ts';
import { TfjsDetector } from '../main/detector/tfjs-detector.ts';
import { useBackend } from '../main/detector/kernels/backend.ts';
import { splitFor } from '../main/evaluation/evaluate.ts';
import type { SplitName } from '../main/datasets/index.ts';
import { scoreMaps, truthOf } from './lib/map-scores.ts';

type Shift = (rgb: Uint8Array, side: number) => Uint8Array;

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
const perPixel = (f: (r: number, g: number, b: number) => [number, number, number]): Shift => (rgb) => {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const [r, g, b] = f(rgb[i] / 255, rgb[i + 1] / 255, rgb[i + 2] / 255);
    out[i] = clamp(r * 255);
    out[i + 1] = clamp(g * 255);
    out[i + 2] = clamp(b * 255);
  }
  return out;
};
const saturate = (s: number) => perPixel((r, g, b) => {
  const y = 0.299 * r + 0.587 * g + 0.114 * b;
  return [y + s * (r - y), y + s * (g - y), y + s * (b - y)];
});
const gamma = (p: number) => perPixel((r, g, b) => [r ** p, g ** p, b ** p]);
/** A separable Gaussian blur of `sigma` pixels (of the letterboxed frame), edges clamped. */
const blur = (sigma: number): Shift => (rgb, side) => {
  const radius = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  const pass = (src: Float32Array, dx: number, dy: number) => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let c = 0; c < 3; c++) {
          let v = 0;
          for (let t = -radius; t <= radius; t++) {
            const xx = Math.min(side - 1, Math.max(0, x + t * dx));
            const yy = Math.min(side - 1, Math.max(0, y + t * dy));
            v += k[t + radius] * src[(yy * side + xx) * 3 + c];
          }
          out[(y * side + x) * 3 + c] = v / sum;
        }
      }
    }
    return out;
  };
  const h = pass(Float32Array.from(rgb), 1, 0);
  return Uint8Array.from(pass(h, 0, 1), clamp);
};

const SHIFTS: Record<string, Shift | null> = {
  none: null,
  'warm (R×1.2, B×0.8)': perPixel((r, g, b) => [r * 1.2, g, b * 0.8]),
  'cool (R×0.85, B×1.2)': perPixel((r, g, b) => [r * 0.85, g, b * 1.2]),
  'greenish (G×1.15)': perPixel((r, g, b) => [r, g * 1.15, b]),
  'washed out (saturation 0.5)': saturate(0.5),
  'vivid (saturation 1.5)': saturate(1.5),
  'dark tone (gamma 1.5)': gamma(1.5),
  'bright tone (gamma 0.67)': gamma(0.67),
  'soft focus (blur σ 1.5 px)': blur(1.5),
};

const { values } = parseArgs({ options: { models: { type: 'string' }, data: { type: 'string' }, negatives: { type: 'string' }, split: { type: 'string', default: 'val' }, root: { type: 'string', default: 'models' } } });
const names = (values.models ?? '').split(',').filter(Boolean);
if (!names.length || !values.data) throw new Error('--models a[,b] and --data are required');
if (!['train', 'val', 'test'].includes(values.split as string)) throw new Error(`--split must be train, val or test, not ${values.split}`);
await useBackend();
const dataset = await openDataset(values.data, 'masks', { negatives: values.negatives ? [values.negatives] : undefined });
const byId = new Map(dataset.samples.map((s) => [s.id, s]));

for (const name of names) {
  const dir = name.includes('/') ? name : join(values.root as string, name);
  const card = readCard(dir);
  const size = card.inputSize;
  const side = size / 4;
  const flips = isFlipSet(card.flips) ? card.flips : 'none';
  const ids = splitFor(dir, values.data, dataset.samples).split[values.split as SplitName];
  const cache = new SampleCache(byId, size);
  const truth = await truthOf(cache, ids);
  const detector = new TfjsDetector(await loadModel(dir));
  try {
    for (const [label, shift] of Object.entries(SHIFTS)) {
      const maps: Float32Array[] = [];
      for (const id of ids) {
        const d = await cache.get(id);
        const [r] = await predict(detector, [shift ? shift(d.image, size) : d.image], { flips });
        maps.push(r.data[0]);
      }
      const at = typeof card.candidateThreshold === 'number' ? card.candidateThreshold : 0.5;
      const row = scoreMaps(maps, truth, side, size, { diceAt: typeof card.threshold === 'number' ? card.threshold : 0.5, thresholds: [...new Set([at, 0.8, 0.85, 0.9])].sort((a, b) => a - b) });
      console.log(JSON.stringify({ model: name, split: values.split, shift: label, images: ids.length, operatingPoint: at, ...row }));
    }
  } finally {
    detector.dispose();
  }
}
