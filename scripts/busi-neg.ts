/**
 * A BUSI model fine-tuned with lesion-free crops of BUSI's own images (scripts/busi-lesion-free.ts), the
 * polyp -neg recipe (docs/experiments.md: `studio train --base … --negatives … --augment overlays`) with one
 * change: the split. `studio train` splits a negatives folder by its own seeded rule, which would put crops
 * of validation images into training and leave most crops of test images out of the test part (a stored
 * split completed for new images gives them only their 15% share). Here every crop follows its source
 * image: the base's split.json places the lesion images, and a crop of a train / val / test image goes to
 * train / val / test. So no crop of a test image is trained on, validation calibrates on crops of images
 * the model never trained on, and `studio evaluate --split test` with both folders scores every held-out crop.
 *
 *   node --import tsx scripts/busi-neg.ts train --base busi-cbam --negatives TRAIN_VAL_DIR,TEST_DIR [--epochs 10] [--lr 5e-4] [--augment overlays] [--out .studio/train/busi-cbam-neg]
 *   node --import tsx scripts/busi-neg.ts compare --base busi-cbam --model .studio/train/busi-cbam-neg --negatives … --split test --out report.json
 *
 * `compare` scores the base on exactly the images of the new model's split part (the base's own split would
 * spread the crops 70/15/15) at the base's operating point, beside the new model, as one JSON line each;
 * `--split all --data BAND_DIR` scores every image of a probe set (`busi-lesion-free.ts --with-lesion`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDataset, type Split } from '../main/datasets/index.ts';
import { loadSettings } from '../main/settings.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    base: { type: 'string', default: 'busi-cbam' },
    model: { type: 'string' },
    data: { type: 'string' },
    negatives: { type: 'string' },
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '5e-4' },
    augment: { type: 'string', default: 'overlays' },
    'attention-weight': { type: 'string' },
    split: { type: 'string', default: 'test' },
    out: { type: 'string' },
    workers: { type: 'string', default: '2' },
  },
});
const settings = loadSettings();
const data = values.data ?? join(settings.dataDir ?? '../shared/data', 'busi');
const negatives = (values.negatives ?? '').split(',').filter(Boolean);
if (negatives.length === 0 && positionals[0] === 'train') throw new Error('--negatives: the crop folders (train,val crops and test crops)');
// As the polyp -neg cards record their base: relative to the project (`models/busi-cbam`).
const baseDir = join('models', values.base as string);
const baseSplit = JSON.parse(readFileSync(join(baseDir, 'split.json'), 'utf8')) as Split;

/** The base's split, each lesion-free crop added to its source image's part (manifest group = source image). */
async function cropSplit(): Promise<Split> {
  const dataset = await openDataset(data, 'masks', { negatives });
  const partOf = new Map<string, 'train' | 'val' | 'test'>();
  for (const part of ['train', 'val', 'test'] as const) for (const id of baseSplit[part]) partOf.set(id, part);
  const split: Split = { seed: baseSplit.seed, ratios: baseSplit.ratios, train: [...baseSplit.train], val: [...baseSplit.val], test: [...baseSplit.test] };
  for (const s of dataset.samples) {
    if (!s.negative) continue;
    // listNegatives prefixes the manifest group with the folder (`busi-lesion-free-test/benign (3).png`).
    const source = s.group?.slice(s.group.indexOf('/') + 1);
    const part = source ? partOf.get(source) : undefined;
    if (!part) throw new Error(`${s.id}: its source image (${source ?? 'no manifest group'}) is not in ${baseDir}/split.json`);
    split[part].push(s.id);
  }
  return split;
}

if (positionals[0] === 'train') {
  const { readCard } = await import('../main/detector/io.ts');
  const { train } = await import('../main/training/trainer.ts');
  const { terminalTrainingHooks } = await import('../main/cli/training-progress.ts');
  const { studioVersion } = await import('../main/services/index.ts');
  const card = readCard(baseDir);
  const name = `${values.base}-neg`;
  const split = await cropSplit();
  const count = (part: string[]) => `${part.length} (${part.filter((id) => id.includes('/')).length} crops)`;
  process.stderr.write(`${name}: train ${count(split.train)}, val ${count(split.val)}, test ${count(split.test)}\n`);
  const h = card.hyperparameters as { attentionSupervision?: { weight: number } } | undefined;
  const result = await train(
    {
      name,
      data,
      format: 'masks',
      variant: card.variant,
      epochs: Number(values.epochs),
      batchSize: 8,
      // The base's input size: a -neg model is the base taught "nothing here", not another resolution.
      inputSize: card.inputSize,
      learningRate: Number(values.lr),
      seed: baseSplit.seed,
      negatives,
      base: baseDir,
      out: values.out ?? join('.studio/train', name),
      split,
      augmentation: values.augment as 'standard' | 'strong' | 'overlays',
      attentionWeight: values['attention-weight'] !== undefined ? Number(values['attention-weight']) : (h?.attentionSupervision?.weight ?? 0),
      workers: Number(values.workers),
      studioVersion: studioVersion(),
    },
    terminalTrainingHooks(),
  );
  const last = result.history[result.history.length - 1];
  console.log(JSON.stringify({ out: result.out, epochs: result.epochs, seconds: Math.round(result.seconds), last }));
} else if (positionals[0] === 'compare') {
  const { evaluateModel } = await import('../main/evaluation/evaluate.ts');
  const modelDir = resolve(values.model as string);
  // `--split all`: every image of the data, for a probe set neither model trained on (the lesion bands).
  const which = values.split as 'val' | 'test' | 'all';
  const ids = which === 'all' ? (await openDataset(data, 'masks', { negatives })).samples.map((s) => s.id) : (JSON.parse(readFileSync(join(modelDir, 'split.json'), 'utf8')) as Split)[which];
  const rows = [];
  for (const [name, dir] of [
    [values.base as string, baseDir],
    [basename(modelDir), modelDir],
  ]) {
    const r = await evaluateModel(name, { modelDir: dir, data, format: 'masks', negatives, ids });
    const row = { model: name, split: which, images: r.images, lesions: r.lesions, negatives: r.negatives, imageSet: r.imageSet, candidateThreshold: r.candidateThreshold, dice: r.dice, sensitivity1FP: r.sensitivity1FP, ap50: r.ap50, fpPerNegativeImage: r.fpPerNegativeImage, negativesWithFindings: r.negativesWithFindings, imageAUROC: r.imageAUROC, fpPerNegativeImageByCandidateThreshold: r.fpPerNegativeImageByCandidateThreshold, sensitivity1FPByCandidateThreshold: r.sensitivity1FPByCandidateThreshold };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  if (values.out) writeFileSync(values.out, `${JSON.stringify(rows, null, 2)}\n`);
} else {
  throw new Error('usage: scripts/busi-neg.ts train|compare … (see the comment at the top)');
}
