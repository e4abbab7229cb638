/**
 * The site loop measured (issue 24): a "new site" whose frames the base never trained on is analysed into a
 * fresh review store by the base, reviewed by a reader simulated from the masks (test/helpers/simulated-reader.ts)
 * through the studio's contract, then adapted (main/training/adapt.ts); prints base and adapted on the site's
 * held-out sequences, and on the base's held-out lesion-free frames, as JSON lines.
 *
 *   node --import tsx scripts/site-experiment.ts --base kvasir-cbam-neg [--images 300] [--seed 42] [--epochs 12] [--shift bgr] [--sequences 6]
 *
 * The site (scripts/site-setup.ts): the base's own validation and test images of its dataset, with their masks
 * as the reader's truth; `--shift bgr` shows them as another device would, `--sequences N` puts them in
 * folders of N frames, as video sequences.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ADAPT_DEFAULTS } from '../preload/contract.ts';
import { adaptModel } from '../main/training/adapt.ts';
import { readImages } from '../test/helpers/simulated-reader.ts';
import { buildSite, masksFolder, openSession } from './site-setup.ts';
import { evaluateModel } from '../main/evaluation/evaluate.ts';
import { readFileSync } from 'node:fs';

const { values } = parseArgs({ options: { base: { type: 'string', default: 'kvasir-cbam-neg' }, images: { type: 'string', default: '300' }, seed: { type: 'string', default: '42' }, epochs: { type: 'string', default: String(ADAPT_DEFAULTS.epochs) }, lr: { type: 'string' }, shift: { type: 'string' }, sequences: { type: 'string' }, patience: { type: 'string', default: String(ADAPT_DEFAULTS.patience) } } });
const { settings, baseDir, home, images, truth, maskOf } = await buildSite({
  base: values.base as string,
  images: Number(values.images),
  ...(values.shift === 'bgr' ? { shift: 'bgr' as const } : {}),
  ...(values.sequences ? { sequences: Number(values.sequences) } : {}),
});

const store = join(home, 'review.sqlite');
const session = openSession(settings, home);
const t0 = performance.now();
const batch = await session.analyze(values.base as string, images, store, join(home, 'analyze'));
const analyzed = (performance.now() - t0) / 1000;
const { items } = (await session.call('review.worklist', {})) as { items: { imageId: number; path: string }[] };
const read = await readImages(session.call, 'sim-reader', items, truth);
const reviewed = (performance.now() - t0) / 1000 - analyzed;
console.log(JSON.stringify({ step: 'reviewed', base: values.base, shift: values.shift ?? 'none', siteImages: images.length, batch: batch.state, analyzeSeconds: Math.round(analyzed), reviewSeconds: Math.round(reviewed), ...read }));
await session.close();

const t1 = performance.now();
const result = await adaptModel(
  {
    name: `${values.base}-site`,
    baseModel: values.base as string,
    epochs: Number(values.epochs),
    learningRate: values.lr ? Number(values.lr) : ADAPT_DEFAULTS.learningRate,
    patience: Number(values.patience),
    seed: Number(values.seed),
    out: join(home, 'models', `${values.base}-site`),
    base: baseDir,
    store,
  },
  {
    progress: (p) => p.message && process.stderr.write(`${p.message}\n`),
    gate: async () => 'go',
    log: (line) => process.stderr.write(`${line}\n`),
  },
);
const s = result.site;
const pick = (r: Pick<typeof s.evaluation.base, 'dice' | 'sensitivity1FP' | 'fpPerNegativeImage' | 'imageAUROC' | 'images'>) => ({ dice: r.dice, sensitivity1FP: r.sensitivity1FP, fpPerNegativeImage: r.fpPerNegativeImage ?? null, imageAUROC: r.imageAUROC ?? null, images: r.images });
// The verdict above scores both on the store's labels, where an accepted finding's outline is the base's own;
// the site's true masks say how good each really is there: the same held-out images as a masks folder.
const split = JSON.parse(readFileSync(join(result.out, 'split.json'), 'utf8')) as { test: string[] };
const truthDir = join(home, 'truth');
const truthIds = masksFolder(truthDir, split.test, maskOf);
const onTruth = async (name: string, dir: string) => pick(await evaluateModel(name, { modelDir: dir, data: truthDir, format: 'masks', ids: truthIds }));
const truthBase = await onTruth(values.base as string, baseDir);
const truthAdapted = await onTruth(`${values.base}-site`, result.out);
console.log(JSON.stringify({ step: 'adapted', seed: Number(values.seed), trueMasks: { base: truthBase, adapted: truthAdapted }, adaptSeconds: Math.round((performance.now() - t1) / 1000), epochsRun: s.epochsRun, bestEpoch: s.bestEpoch, counts: s.counts, baseNegatives: s.baseNegatives, base: pick(s.evaluation.base), adapted: pick(s.evaluation.adapted), forgetting: s.forgetting, better: s.better, verdict: s.verdict, out: result.out }));
