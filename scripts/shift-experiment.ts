/**
 * How a model's figures move when its held-out frames look as another hospital's camera would render them.
 * Each of evaluation's renderings (main/evaluation/renderings.ts) is applied to every frame of the split
 * (lesion-free ones too: a device renders normal tissue the same way), and the frames are scored by
 * evaluation's rules at the model's own thresholds and flips, and at a few candidate thresholds besides
 * (`studio evaluate --renderings` scores the operating point alone).
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
import { RENDERINGS, renderFrame, type Rendering } from '../main/evaluation/renderings.ts';
import { scoreMaps, truthOf } from './lib/map-scores.ts';

// As recorded, then each of evaluation's renderings (main/evaluation/renderings.ts).
const SHIFTS: Record<string, Rendering | null> = { none: null, ...RENDERINGS };

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
        const [r] = await predict(detector, [shift ? renderFrame(shift, d.image, size, d.box) : d.image], { flips });
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
