/**
 * Which image to review next, measured (issue 24): does reviewing a site's images most informative first
 * (review.worklist `order: 'informative'`, main/review/informative.ts) make the adapted model good sooner than
 * reviewing them in file order? Prints JSON lines.
 *
 *   node --import tsx scripts/active-learning.ts --base kvasir-baseline-neg --shift bgr [--images 210] [--heldout 60]
 *     [--sequences 6] [--k 40,100] [--seed 42] [--epochs 12] [--patience 3]
 *
 * The site (scripts/site-setup.ts): the base's held-out images of its dataset, `--shift bgr` shown as another
 * device would. Its last `--heldout` images (whole sequences) are set aside first and never enter the review
 * store: both orders are scored on them, as a masks-format folder (images/ + masks/) with evaluateModel's
 * `ids`, since adaptModel splits the store by itself and each arm's split holds other images. The rest is
 * analysed once by the base into a review store; for each K and each order, a copy of that store has its
 * first K worklist images reviewed by the simulated reader (test/helpers/simulated-reader.ts), the rest left
 * pending (the dataset rule leaves them out), and the base is adapted to it (main/training/adapt.ts).
 *
 * One seed, one site: a difference of a few hundredths of Dice between the arms is within what another seed
 * or another draw of held-out sequences moves.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ADAPT_DEFAULTS, type WorklistItem } from '../preload/contract.ts';
import { evaluateModel, type FullReport } from '../main/evaluation/evaluate.ts';
import { adaptModel } from '../main/training/adapt.ts';
import { readImages } from '../test/helpers/simulated-reader.ts';
import { buildSite, masksFolder, openSession } from './site-setup.ts';
import { quantile } from '../main/core/stats.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'kvasir-baseline-neg' },
    images: { type: 'string', default: '210' },
    heldout: { type: 'string', default: '60' },
    sequences: { type: 'string', default: '6' },
    shift: { type: 'string' },
    k: { type: 'string', default: '40,100' },
    seed: { type: 'string', default: '42' },
    epochs: { type: 'string', default: String(ADAPT_DEFAULTS.epochs) },
    patience: { type: 'string', default: String(ADAPT_DEFAULTS.patience) },
    lr: { type: 'string' },
  },
});
if (values.shift && values.shift !== 'bgr') throw new Error(`--shift ${values.shift}: only bgr is known`);
const base = values.base as string;
const ks = (values.k as string).split(',').map(Number);
const frames = Number(values.sequences) || 1;
const ORDERS = ['file', 'informative'] as const;

const site = await buildSite({ base, images: Number(values.images), sequences: frames, ...(values.shift === 'bgr' ? { shift: 'bgr' as const } : {}) });
// Whole sequences, from the end: frames of one video never lie on both sides.
const heldCount = Math.ceil(Number(values.heldout) / frames) * frames;
const pool = site.images.slice(0, site.images.length - heldCount);
const held = site.images.slice(site.images.length - heldCount);
if (pool.length < Math.max(...ks)) throw new Error(`${pool.length} images to review, fewer than K = ${Math.max(...ks)}: raise --images`);

const heldDir = join(site.home, 'heldout');
const heldIds = masksFolder(heldDir, held, site.maskOf);

const analysedHome = join(site.home, 'analysed');
const analysedStore = join(analysedHome, 'review.sqlite');
const t0 = performance.now();
const session = openSession(site.settings, analysedHome);
const batch = await session.analyze(base, pool, analysedStore, join(site.home, 'analyze'));
const { items } = (await session.call('review.worklist', { order: 'informative' })) as { items: WorklistItem[] };
await session.close();
const scores = items.map((i) => i.informativeness ?? 0);
console.log(
  JSON.stringify({
    step: 'analysed',
    base,
    shift: values.shift ?? 'none',
    pool: pool.length,
    heldout: heldIds.length,
    batch: batch.state,
    seconds: Math.round((performance.now() - t0) / 1000),
    withFindings: items.filter((i) => i.pending > 0).length,
    informativeness: { max: round(Math.max(...scores)), median: round(quantile(scores.sort((a, b) => a - b), 0.5)), min: round(Math.min(...scores)) },
  }),
);

const pick = (r: FullReport) => ({ dice: round(r.dice), sensitivity1FP: round(r.sensitivity1FP), ap50: r.ap50 == null ? null : round(r.ap50), images: r.images });
const scoreOn = async (name: string, modelDir: string) => pick(await evaluateModel(name, { modelDir, data: heldDir, format: 'masks', ids: heldIds }));
const baseHeld = await scoreOn(base, site.baseDir);
console.log(JSON.stringify({ step: 'base', base, heldout: baseHeld }));

const results: { order: (typeof ORDERS)[number]; k: number; dice: number; sensitivity1FP: number }[] = [];
for (const k of ks) {
  for (const order of ORDERS) {
    const home = join(site.home, `${order}-${k}`);
    mkdirSync(home, { recursive: true });
    const store = join(home, 'review.sqlite');
    // The closed store is whole in its main file; a WAL left beside it would be copied too.
    copyFileSync(analysedStore, store);
    if (existsSync(`${analysedStore}-wal`)) copyFileSync(`${analysedStore}-wal`, `${store}-wal`);
    const arm = openSession(site.settings, home);
    const list = (await arm.call('review.worklist', { order })) as { items: WorklistItem[] };
    const first = list.items.slice(0, k);
    const read = await readImages(arm.call, 'sim-reader', first, site.truth);
    await arm.close();
    const t1 = performance.now();
    const name = `${base}-${order}-${k}`;
    const adapted = await adaptModel(
      { name, baseModel: base, epochs: Number(values.epochs), learningRate: values.lr ? Number(values.lr) : ADAPT_DEFAULTS.learningRate, patience: Number(values.patience), seed: Number(values.seed), out: join(home, 'model'), base: site.baseDir, store },
      { progress: (p) => p.message && process.stderr.write(`[${order} K=${k}] ${p.message}\n`), gate: async () => 'go', log: (line) => process.stderr.write(`[${order} K=${k}] ${line}\n`) },
    );
    const adaptSeconds = Math.round((performance.now() - t1) / 1000);
    const heldout = await scoreOn(name, adapted.out);
    results.push({ order, k, dice: heldout.dice, sensitivity1FP: heldout.sensitivity1FP });
    const s = adapted.site;
    console.log(
      JSON.stringify({
        step: 'arm',
        order,
        k,
        reviewed: read,
        meanInformativeness: round(first.reduce((n, i) => n + (i.informativeness ?? 0), 0) / first.length),
        sequences: new Set(first.map((i) => dirname(i.path))).size,
        counts: s.counts,
        epochsRun: s.epochsRun,
        bestEpoch: s.bestEpoch,
        adaptSeconds,
        heldout,
        forgetting: s.forgetting,
      }),
    );
  }
}

// How much sooner: for each K, informative against file order on the same held-out images, and the
// smallest K at which file order reaches what informative order reached (null: not within the Ks run).
const at = (order: string, k: number) => results.find((r) => r.order === order && r.k === k)!;
console.log(
  JSON.stringify({
    step: 'summary',
    base,
    shift: values.shift ?? 'none',
    seed: Number(values.seed),
    heldout: heldIds.length,
    baseDice: baseHeld.dice,
    byK: ks.map((k) => ({ k, file: at('file', k).dice, informative: at('informative', k).dice, diceGain: round(at('informative', k).dice - at('file', k).dice), sens1FPGain: round(at('informative', k).sensitivity1FP - at('file', k).sensitivity1FP) })),
    fileKToMatch: ks.map((k) => ({ informativeK: k, fileK: ks.find((fk) => at('file', fk).dice >= at('informative', k).dice) ?? null })),
  }),
);

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
