/**
 * The one rule for what a reviewed image contributes (main/datasets/review.ts), on a store holding every
 * kind of image a partly reviewed site has. Before it, `studio train --format review` took every image in
 * the store and trained the pending findings as background (a fine-tune from a partly reviewed store fell to
 * Dice 0.001), while the exports' copy of the rule took reviewed images only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { openStore } from '../../main/review/store.ts';
import { decodeSample, openDataset, reviewedDataset } from '../../main/datasets/index.ts';
import { exportStore } from '../../main/export/index.ts';
import type { CocoDataset } from '../../main/export/coco.ts';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const dir = mkdtempSync(join(tmpdir(), 'datasets-review-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const storeFile = join(dir, 'review.sqlite');
const W = 64, H = 48;
const path = (name: string) => join(dir, `${name}.png`);

before(async () => {
  for (const name of ['unreviewed', 'half', 'complete', 'rejected']) {
    await sharp(Buffer.alloc(W * H * 3, 90), { raw: { width: W, height: H, channels: 3 } }).png().toFile(path(name));
  }
  const store = openStore(storeFile);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const image = (name: string, boxes: [number, number, number, number][]) =>
    store.recordImageFindings(run, { path: path(name), contentHash: createHash('sha256').update(name).digest('hex'), width: W, height: H }, boxes.map((box) => ({ box, score: 0.8, area: 100 })));
  image('unreviewed', [[4, 4, 20, 20]]);
  const half = image('half', [[4, 4, 20, 20], [30, 10, 50, 30]]);
  store.decide({ findingId: half.findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
  const complete = image('complete', [[4, 4, 20, 20], [30, 10, 50, 30]]);
  store.decide({ findingId: complete.findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
  store.decide({ findingId: complete.findingIds[1], reviewer: 'dr.a', decision: 'rejected' });
  const rejected = image('rejected', [[10, 10, 30, 30]]);
  store.decide({ findingId: rejected.findingIds[0], reviewer: 'dr.b', decision: 'rejected' });
  store.close();
});

test('a review dataset holds fully reviewed images only: confirmed findings are lesions, an all-rejected image is a negative', async () => {
  const ds = await openDataset(storeFile, 'review');
  const ids = ds.samples.map((s) => s.id).sort();
  assert.deepEqual(ids, [path('complete'), path('rejected')].sort(), 'unreviewed and half-reviewed images wait');
  const complete = ds.samples.find((s) => s.id === path('complete'))!;
  assert.deepEqual(complete.boxes, [[4, 4, 20, 20]], 'the rejected finding is not a lesion');
  const negative = ds.samples.find((s) => s.id === path('rejected'))!;
  assert.deepEqual(negative.boxes, []);
  const decoded = await decodeSample(negative, 32);
  assert.equal(decoded.mask.reduce((a, b) => a + b, 0), 0, 'a negative trains as background everywhere');
  const positive = await decodeSample(complete, 32);
  assert.ok(positive.mask.reduce((a, b) => a + b, 0) > 0);
});

test('the exports take the reviewed images by the same rule, and say how many findings on each are undecided', () => {
  const { items } = reviewedDataset(storeFile);
  assert.deepEqual(items.map((i) => [i.path, i.pending]).sort(), [[path('complete'), 0], [path('half'), 1], [path('rejected'), 0]].sort());
  const out = join(dir, 'coco');
  const coco = JSON.parse(readFileSync(exportStore(storeFile, 'coco', out, 'test').files[0], 'utf8')) as CocoDataset;
  assert.deepEqual(coco.images.map((i) => [i.path, i.pending_findings]).sort(), items.map((i) => [i.path, i.pending]).sort());
});

test('a store with no fully reviewed image is refused with the reason, not trained as empty', async () => {
  const file = join(dir, 'pending.sqlite');
  const store = openStore(file);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  store.recordImageFindings(run, { path: path('unreviewed'), contentHash: 'a'.repeat(64), width: W, height: H }, [{ box: [4, 4, 20, 20], score: 0.8, area: 100 }]);
  store.close();
  await assert.rejects(openDataset(file, 'review'), /no fully reviewed raster image/);
});
