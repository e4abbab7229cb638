/**
 * The one rule for what a reviewed image contributes (main/datasets/review.ts), on a store holding every
 * kind of image a partly reviewed site has. Before it, `studio train --format review` took every image in
 * the store and trained the pending findings as background (a fine-tune from a partly reviewed store fell to
 * Dice 0.001), while the exports' copy of the rule took reviewed images only. An image with no finding is a
 * label only once a reader confirmed it has no lesion (issue 24): before, it counted as reviewed by default.
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
import { CSV_COLUMNS } from '../../main/export/csv.ts';
import { storeRecorder } from '../../main/review/recorder.ts';
import { findings } from '../../main/detector/postprocess.ts';
import { letterboxGeometry } from '../../main/detector/preprocess.ts';
import { parseCsv } from '../helpers/csv.ts';
import { rleEncode } from '../../main/review/rle.ts';

const dir = mkdtempSync(join(tmpdir(), 'datasets-review-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const storeFile = join(dir, 'review.sqlite');
const W = 64, H = 48;
const path = (name: string) => join(dir, `${name}.png`);

before(async () => {
  for (const name of ['unreviewed', 'half', 'complete', 'rejected', 'empty', 'flagged-empty', 'flagged-pending', 'clean', 'false-positives', 'overridden']) {
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
  // No finding and no reader: waits, flagged or not. A flag alone reviews nothing.
  image('empty', []);
  store.flag({ imageId: image('flagged-empty', []).imageId, reviewer: 'dr.a', flagged: true });
  store.flag({ imageId: image('flagged-pending', [[4, 4, 20, 20]]).imageId, reviewer: 'dr.a', flagged: true });
  // A reader's "no lesion": on an image with no finding, and on a frame of false positives.
  store.confirmNoLesion({ imageId: image('clean', []).imageId, reviewer: 'dr.a', note: 'clean mucosa' });
  store.confirmNoLesion({ imageId: image('false-positives', [[4, 4, 20, 20], [30, 10, 50, 30]]).imageId, reviewer: 'dr.b' });
  // A lesion added after a "no lesion" makes the image a positive.
  const overridden = image('overridden', []);
  store.confirmNoLesion({ imageId: overridden.imageId, reviewer: 'dr.a' });
  store.add({ imageId: overridden.imageId, reviewer: 'dr.b', box: [8, 8, 24, 20] });
  store.close();
});

test('a review dataset holds fully reviewed images only: confirmed findings are lesions, an all-rejected image is a negative', async () => {
  const ds = await openDataset(storeFile, 'review');
  const ids = ds.samples.map((s) => s.id).sort();
  assert.deepEqual(ids, [path('complete'), path('rejected'), path('clean'), path('false-positives'), path('overridden')].sort(), 'unreviewed, half-reviewed, flagged-only and unconfirmed empty images wait');
  for (const name of ['clean', 'false-positives']) assert.deepEqual(ds.samples.find((s) => s.id === path(name))!.boxes, [], `${name}: a reader's "no lesion" makes a negative`);
  assert.deepEqual(ds.samples.find((s) => s.id === path('overridden'))!.boxes, [[8, 8, 24, 20]], 'a lesion added after "no lesion" is a positive');
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
  const { items, waiting } = reviewedDataset(storeFile);
  assert.deepEqual(items.map((i) => [i.path, i.pending, i.label]).sort(), [
    [path('complete'), 0, 'positive'], [path('half'), 1, null], [path('rejected'), 0, 'negative'],
    [path('clean'), 0, 'negative'], [path('false-positives'), 0, 'negative'], [path('overridden'), 0, 'positive'],
  ].sort());
  assert.deepEqual(waiting, { unreviewed: 4, halfReviewed: 1 }, 'unreviewed, empty, flagged-empty and flagged-pending wait for a reader; half for the rest of its review');
  const clean = items.find((i) => i.path === path('clean'))!;
  assert.deepEqual(clean.noLesion.map((d) => [d.reviewer, d.decision, d.note]), [['dr.a', 'no-lesion', 'clean mucosa']]);
  const out = join(dir, 'coco');
  const coco = JSON.parse(readFileSync(exportStore(storeFile, 'coco', out, 'test').files[0], 'utf8')) as CocoDataset;
  assert.deepEqual(coco.images.map((i) => [i.path, i.pending_findings]).sort(), items.map((i) => [i.path, i.pending]).sort());
  const cocoClean = coco.images.find((i) => i.path === path('clean'))!;
  assert.deepEqual(cocoClean.no_lesion?.map((d) => d.reviewer), ['dr.a'], 'a confirmed lesion-free image is listed, with who confirmed it');
  assert.equal(coco.annotations.filter((a) => a.image_id === cocoClean.id).length, 0, 'and no annotation');
});

test('the CSV export gives a confirmed image with no finding a row saying no lesion', () => {
  const result = exportStore(storeFile, 'csv', join(dir, 'csv'));
  const [header, ...rows] = parseCsv(readFileSync(result.files[0], 'utf8'));
  const col = (name: (typeof CSV_COLUMNS)[number]) => header.indexOf(name);
  for (const r of rows) assert.equal(r.length, CSV_COLUMNS.length);
  const clean = rows.filter((r) => r[col('image_path')] === path('clean'));
  assert.equal(clean.length, 1);
  assert.deepEqual([clean[0][col('finding_id')], clean[0][col('decision')], clean[0][col('reviewer')], clean[0][col('note')], clean[0][col('image_decisions')]], ['', 'no-lesion', 'dr.a', 'clean mucosa', 'dr.a:no-lesion']);
  const fp = rows.filter((r) => r[col('image_path')] === path('false-positives'));
  assert.deepEqual(fp.map((r) => [r[col('decision')], r[col('image_decisions')]]), [['rejected', 'dr.b:no-lesion'], ['rejected', 'dr.b:no-lesion']]);
  assert.ok(!rows.some((r) => r[col('image_path')] === path('empty')), 'an image waiting for a reader has no finding to list');
  assert.equal(result.findings, rows.filter((r) => r[col('finding_id')] !== '').length);
});

test('an accepted model finding trains as its own lesion shape, the component the batch recorded, not a filled box', async () => {
  const file = join(dir, 'shaped.sqlite');
  // A lesion map over the 64×48 image (a 64 input: 16×12 cells of 4 px) with an L-shaped component.
  const map = { width: 16, height: 12, data: new Float32Array(16 * 12).fill(0.05) };
  for (const [x, y] of [[3, 3], [3, 4], [3, 5], [3, 6], [4, 6], [5, 6], [6, 6]]) map.data[y * 16 + x] = 0.9;
  const found = findings(map, 4, letterboxGeometry(W, H, 64), W, H, { threshold: 0.5 });
  assert.equal(found.length, 1);
  const rec = storeRecorder(file, { model: 'kvasir-cbam', backend: 'wasm' });
  const { findingIds } = await rec.record(path('complete'), { width: W, height: H, findings: found, lesionMap: { map, threshold: 0.5 } });
  rec.finish();
  rec.close();
  const store = openStore(file);
  store.decide({ findingId: findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
  store.close();
  const [sample] = (await openDataset(file, 'review')).samples;
  assert.deepEqual(sample.boxes, [], 'a lesion with a mask is no box target');
  const target = await sample.rasterMask!();
  const lesion = target.data.reduce((n, v) => n + (v ? 1 : 0), 0);
  const [x0, y0, x1, y1] = found[0].box;
  assert.equal(lesion, 7 * 16, 'seven cells of 4×4 pixels');
  assert.ok(lesion < 0.5 * (x1 - x0) * (y1 - y0), `the L (${lesion} px) is far from its filled box (${(x1 - x0) * (y1 - y0)} px)`);
  assert.equal(target.data[5 * 4 * W + 6 * 4], 0, 'the box corner the L does not reach is background');
  assert.equal(target.data[(3 * 4 + 1) * W + 3 * 4 + 1], 255, 'the L is lesion');
});

test('a store with no fully reviewed image is refused with the reason, not trained as empty', async () => {
  const file = join(dir, 'pending.sqlite');
  const store = openStore(file);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  store.recordImageFindings(run, { path: path('unreviewed'), contentHash: 'a'.repeat(64), width: W, height: H }, [{ box: [4, 4, 20, 20], score: 0.8, area: 100 }]);
  store.close();
  await assert.rejects(openDataset(file, 'review'), /no fully reviewed image/);
});

test('a reader’s outline sent with an accept is the training target: not the model’s own shape, not the box', async () => {
  const file = join(dir, 'outlined.sqlite');
  // The model's shape of its finding: the left column of cells [4, 8) of its box [4, 4, 24, 24].
  const model = new Uint8Array(W * H);
  for (let y = 4; y < 24; y++) for (let x = 4; x < 8; x++) model[y * W + x] = 1;
  // The reader's outline: a disc in the box's lower right, reaching 2 px past its right edge.
  const reader = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x + 0.5 - 19) ** 2 + (y + 0.5 - 18) ** 2 <= 49) reader[y * W + x] = 1;
  const store = openStore(file);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const { findingIds } = store.recordImageFindings(run, { path: path('complete'), contentHash: 'b'.repeat(64), width: W, height: H }, [{ box: [4, 4, 24, 24], score: 0.8, area: 80, mask: rleEncode(model, W, H) }]);
  store.decide({ findingId: findingIds[0], reviewer: 'dr.a', decision: 'accepted', mask: rleEncode(reader, W, H) });
  store.close();
  const [sample] = (await openDataset(file, 'review')).samples;
  assert.deepEqual(sample.boxes, [], 'a lesion with a mask is no box target');
  const target = await sample.rasterMask!();
  assert.deepEqual([...target.data].map((v) => (v ? 1 : 0)), [...reader], 'the target is the reader’s disc, pixel for pixel');
  assert.equal(target.data[10 * W + 5], 0, 'the model’s own column is background where the reader did not paint');
  const { items } = reviewedDataset(file);
  assert.deepEqual(items[0].boxes, [[12, 11, 26, 25]], 'the outline reaches outside the proposed box: the lesion’s box is the outline’s');
});
