/**
 * The site loop measured (issue 24): a "new site" whose frames the base never trained on is analysed into a
 * fresh review store by the base, reviewed by a reader simulated from the masks (test/helpers/simulated-reader.ts)
 * through the studio's contract, then adapted (main/training/adapt.ts); prints base and adapted on the site's
 * held-out sequences, and on the base's held-out lesion-free frames, as JSON lines.
 *
 *   node --import tsx scripts/site-experiment.ts --base kvasir-cbam-neg [--images 300] [--seed 42] [--epochs 12]
 *
 * The site: the base's own validation and test images of its dataset (it never trained on them; its
 * validation images only picked its thresholds), with their masks as the reader's truth.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchProgress, ModelCard } from '../preload/contract.ts';
import { createServices } from '../main/services/index.ts';
import { loadSettings, resolveProjectPath } from '../main/settings.ts';
import { adaptModel } from '../main/training/adapt.ts';
import { lesionsFromMask, readImages } from '../test/helpers/simulated-reader.ts';

const { values } = parseArgs({ options: { base: { type: 'string', default: 'kvasir-cbam-neg' }, images: { type: 'string', default: '300' }, seed: { type: 'string', default: '42' }, epochs: { type: 'string', default: '12' }, lr: { type: 'string' } } });
const settings = loadSettings();
const baseDir = join(settings.modelsDir, values.base as string);
const card = JSON.parse(readFileSync(join(baseDir, 'card.json'), 'utf8')) as ModelCard;
const data = resolveProjectPath(card.data?.path as string);
const split = JSON.parse(readFileSync(join(baseDir, 'split.json'), 'utf8')) as { val: string[]; test: string[] };
const negativeFolders = new Set((card.data?.negativeFolders ?? []).map((f) => basename(f)));
const siteIds = [...split.val, ...split.test].filter((id) => !negativeFolders.has(id.split('/')[0])).slice(0, Number(values.images));
const images = siteIds.map((id) => join(data, 'images', id));
const maskOf = (path: string) => {
  const stem = basename(path, extname(path));
  for (const ext of ['.jpg', '.png']) if (existsSync(join(data, 'masks', stem + ext))) return join(data, 'masks', stem + ext);
  return undefined;
};

const home = mkdtempSync(join(tmpdir(), 'site-'));
const store = join(home, 'review.sqlite');
const services = createServices({ shell: 'browser', settings: { ...settings, homeDir: home }, log: () => {} });
const call = async (channel: string, payload: unknown) => {
  const r = (await services.dispatch(channel, payload)) as { ok: boolean; value?: unknown; error?: { message: string } };
  if (!r.ok) throw new Error(`${channel}: ${r.error?.message}`);
  return r.value;
};
const t0 = performance.now();
const done = new Promise<BatchProgress>((resolveDone) =>
  services.events.subscribe((event, p) => {
    const b = p as BatchProgress;
    if (event === 'batch.progress' && ['finished', 'failed', 'cancelled'].includes(b.state)) resolveDone(b);
  }),
);
await call('batch.start', { inputs: images, model: values.base, out: join(home, 'analyze'), store });
const batch = await done;
const analyzed = (performance.now() - t0) / 1000;
const { items } = (await call('review.worklist', {})) as { items: { imageId: number; path: string }[] };
const read = await readImages(call, 'sim-reader', items, async (path) => {
  const m = maskOf(path);
  return m ? lesionsFromMask(m) : undefined;
});
const reviewed = (performance.now() - t0) / 1000 - analyzed;
console.log(JSON.stringify({ step: 'reviewed', base: values.base, images: images.length, batch: batch.state, analyzeSeconds: Math.round(analyzed), reviewSeconds: Math.round(reviewed), ...read }));
await services.close();

const t1 = performance.now();
const result = await adaptModel(
  {
    name: `${values.base}-site`,
    baseModel: values.base as string,
    epochs: Number(values.epochs),
    learningRate: values.lr ? Number(values.lr) : 3e-4,
    patience: 3,
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
const pick = (r: typeof s.evaluation.base) => ({ dice: r.dice, sensitivity1FP: r.sensitivity1FP, fpPerNegativeImage: r.fpPerNegativeImage ?? null, imageAUROC: r.imageAUROC ?? null, images: r.images });
console.log(JSON.stringify({ step: 'adapted', seed: Number(values.seed), adaptSeconds: Math.round((performance.now() - t1) / 1000), epochsRun: s.epochsRun, bestEpoch: s.bestEpoch, counts: s.counts, baseNegatives: s.baseNegatives, base: pick(s.evaluation.base), adapted: pick(s.evaluation.adapted), forgetting: s.forgetting, better: s.better, verdict: s.verdict, out: result.out }));
