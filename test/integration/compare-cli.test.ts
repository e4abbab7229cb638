/**
 * `studio compare`: two or more models on one dataset split from the command line, as Compare scores them
 * in the studio, with the images they share as an option; a typo or a split they do not share is refused
 * before anything is scored or written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { saveModel } from '../../main/detector/io.ts';
import { buildModel } from '../../main/detector/model.ts';
import { listMaskDataset, splitDataset } from '../../main/datasets/index.ts';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { table } from '../../main/cli/commands/compare.ts';
import { makeDiscDataset } from './training-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'studio-compare-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const data = join(root, 'discs');
const models = join(root, 'models');
await makeDiscDataset(data, 32);
const ids = listMaskDataset(data).samples.map((s) => s.id);
// `a` has no split.json, so it is scored on seed 42's split; `b` holds out three of a's test images and two of its training images.
const own = splitDataset(ids, 42);
const shared = own.test.slice(0, 3);
const moved = own.train.slice(0, 2);
for (const name of ['a', 'b', 'apart']) await saveModel(buildModel({ variant: 'baseline', inputSize: 64 }), join(models, name), { name, variant: 'baseline', inputSize: 64 });
const withTest = (name: string, test: string[]) =>
  writeFileSync(join(models, name, 'split.json'), JSON.stringify({ ...own, train: [...own.train, ...own.test].filter((id) => !test.includes(id)), test }));
withTest('b', [...moved, ...[...shared].reverse()]);
withTest('apart', moved);

function studio(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), ...args], { cwd: PROJECT_ROOT, env: { ...process.env, STUDIO_MODELS_DIR: models } }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
const scoredIds = (r: { perImage?: { id: string }[] }) => r.perImage?.map((p) => p.id);

test('studio compare scores each model on its own split, says the models are not comparable, and marks no best', async () => {
  const out = join(root, 'own.json');
  const run = await studio(['compare', '--models', 'a,b', '--data', data, '--out', out]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(report.scope, 'own');
  assert.deepEqual(report.reports.map((r: { model: string }) => r.model), ['a', 'b']);
  assert.deepEqual(scoredIds(report.reports[0]), own.test);
  assert.deepEqual(scoredIds(report.reports[1]), [...moved, ...[...shared].reverse()]);
  assert.match(run.stdout, /^model\s+images\s+lesions\s+Dice/m);
  assert.match(run.stdout, /not comparable: .*a 5, b 5.*--common/);
  assert.match(run.stdout, /not held out: a has no split stored for this data/);
  assert.doesNotMatch(run.stdout, /not held out: .*\bb\b/);
  assert.doesNotMatch(run.stdout, /\d\*/);
});

test('studio compare --common scores every model on the images all their splits share, in the first model\'s order, and --limit takes the same first ones', async () => {
  const out = join(root, 'common.json');
  const run = await studio(['compare', '--models', 'a,b', '--data', data, '--common', '--out', out]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /3 test images lie in the test split of every model/);
  const report = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(report.scope, 'common');
  for (const r of report.reports) assert.deepEqual(scoredIds(r), shared, r.model);
  assert.equal(report.reports[0].imageSet, report.reports[1].imageSet);
  assert.doesNotMatch(run.stdout, /not comparable/);
  const limited = await studio(['compare', '--models', 'a,b', '--data', data, '--common', '--limit', '2', '--out', join(root, 'limited.json')]);
  assert.equal(limited.code, 0, limited.stderr);
  for (const r of JSON.parse(readFileSync(join(root, 'limited.json'), 'utf8')).reports) assert.deepEqual(scoredIds(r), shared.slice(0, 2), r.model);
});

test('studio compare refuses one model, an unknown one, a bad limit and splits that share no image, before writing anything', async () => {
  const cases: [string[], RegExp][] = [
    [['--models', 'a'], /two or more models/],
    [['--models', 'a,nope'], /no model 'nope'/],
    [['--models', 'a,./nowhere'], /no model at .*nowhere/],
    [['--models', 'a,b', '--limit', '0'], /--limit must be at least 1/],
    [['--models', 'a,apart', '--common'], /no image of .* lies in the test split of every picked model \(a 5, apart 2 images each\)/],
  ];
  for (const [args, why] of cases) {
    const out = join(root, 'refused.json');
    const run = await studio(['compare', ...args, '--data', data, '--out', out]);
    assert.equal(run.code, 1, args.join(' '));
    assert.match(run.stderr, why);
    assert.ok(!existsSync(out), `${args.join(' ')} wrote a report`);
  }
});

test('the compare table stars each column\'s best only when every model was scored on the same images', () => {
  const row = (model: string, dice: number, imageSet: string) => ({ model, images: 10, lesions: 11, dice, iou: dice / 2, ap50: 0.5, pointingGame: 0.8, latencyMs: 3, imageSet, froc: [0.5, 1, 2].map((fpPerImage) => ({ fpPerImage, sensitivity: 0.9 })) });
  const same = table([row('x', 0.8, 's'), row('y', 0.7, 's')]).split('\n');
  assert.match(same[1], /^x\s+10\s+11\s+0\.800\*/);
  assert.match(same[2], /^y\s+10\s+11\s+0\.700 /);
  assert.ok(!same.some((l) => /0\.500\*|0\.900\*/.test(l)), 'a tie is no win');
  const apart = table([row('x', 0.8, 's'), row('y', 0.7, 't')]);
  assert.doesNotMatch(apart, /\*/);
  assert.match(apart, /not comparable/);
  const drawn = table([{ ...row('x', 0.8, 's'), splitSource: 'model split.json' }, { ...row('y', 0.7, 's'), splitSource: 'recomputed with the model seed' }]);
  assert.doesNotMatch(drawn, /\*/, 'no best beside a model scored on images its seed drew');
  assert.match(drawn, /not held out: y has no split/);
});

test('studio evaluate with a folder of lesion-free images reports them apart: false positives per lesion-free image, image-level sensitivity, specificity and AUROC, FROC over all images', async () => {
  const normals = join(root, 'normals');
  mkdirSync(join(normals, 'images'), { recursive: true });
  let s = 11;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 20; i++) {
    const img = Buffer.alloc(72 * 56 * 3).map(() => 40 + rand() * 60);
    await sharp(img, { raw: { width: 72, height: 56, channels: 3 } }).jpeg().toFile(join(normals, 'images', `normal${i}.jpg`));
  }
  const out = join(root, 'with-negatives.json');
  const run = await studio(['evaluate', '--model', 'a', '--data', data, '--negatives', normals, '--out', out, '--no-card']);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(readFileSync(out, 'utf8'));
  const negativeIds = report.perImage.filter((p: { id: string }) => p.id.startsWith('normals/'));
  assert.ok(report.negatives >= 3, `${report.negatives} lesion-free images in the test split`);
  assert.equal(report.negatives, negativeIds.length);
  assert.equal(report.images, own.test.length + report.negatives, 'the lesion images keep their own split; the negatives add their share');
  const findings = negativeIds.reduce((sum: number, p: { findings: number }) => sum + p.findings, 0);
  assert.equal(report.fpPerNegativeImage, findings / report.negatives);
  assert.equal(report.imageSpecificity, 1 - report.negativesWithFindings);
  assert.ok(report.imageAUROC >= 0 && report.imageAUROC <= 1);
  // Dice is over the lesion images alone: the same as without the negatives.
  const plain = join(root, 'without-negatives.json');
  assert.equal((await studio(['evaluate', '--model', 'a', '--data', data, '--out', plain, '--no-card'])).code, 0);
  assert.equal(report.dice, JSON.parse(readFileSync(plain, 'utf8')).dice);
  const bad = await studio(['evaluate', '--model', 'a', '--data', data, '--negatives', join(root, 'nowhere'), '--out', out, '--no-card']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /no folder of lesion-free images/);
});
