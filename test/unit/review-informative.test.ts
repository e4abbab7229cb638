import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { closeness, informativeOrder, informativeness, runInformativeness } from '../../main/review/informative.ts';
import { storeRecorder } from '../../main/review/recorder.ts';
import { lesionScore as mapPeak } from '../../main/detector/postprocess.ts';
import { openStore } from '../../main/review/store.ts';

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

test('closeness is 1 at the threshold and falls linearly to 0 at 0 below it and at 1 above it, scaled by the room on each side', () => {
  near(closeness(0.8, 0.8), 1);
  near(closeness(0, 0.8), 0);
  near(closeness(1, 0.8), 0);
  near(closeness(0.4, 0.8), 0.5);
  near(closeness(0.9, 0.8), 0.5);
  near(closeness(0.25, 0.5), 0.5);
  near(closeness(0.75, 0.5), 0.5);
});

test('closeness stays in [0, 1] for scores out of range and for thresholds at 0 or 1', () => {
  near(closeness(-0.2, 0.5), 0);
  near(closeness(1.3, 0.5), 0);
  near(closeness(0.5, 0), 0.5);
  near(closeness(0, 0), 1);
  near(closeness(0.5, 1), 0.5);
  near(closeness(1, 1), 1);
});

test('a map peak just under the threshold (a lesion the model may have missed) scores high, a confidently empty map low', () => {
  near(runInformativeness({ threshold: 0.8, peak: 0.76, scores: [] })!, 0.95);
  near(runInformativeness({ threshold: 0.8, peak: 0.04, scores: [] })!, 0.05);
});

test('an image scores by its most uncertain signal: one borderline finding outweighs a confident one beside it', () => {
  near(runInformativeness({ threshold: 0.5, peak: 0.99, scores: [0.99, 0.55] })!, 0.9);
  near(runInformativeness({ threshold: 0.5, peak: 0.99, scores: [0.99] })!, 0.02);
});

test('a run without a recorded threshold (recorded before schema 4) scores nothing; over runs the most uncertain counts', () => {
  assert.equal(runInformativeness({ threshold: null, peak: null, scores: [0.6] }), undefined);
  assert.equal(runInformativeness({ threshold: 0.5, peak: null, scores: [] }), undefined);
  assert.equal(informativeness([]), undefined);
  assert.equal(informativeness([{ threshold: null, scores: [0.9] }]), undefined);
  near(informativeness([{ threshold: 0.5, peak: 0.05, scores: [] }, { threshold: 0.8, peak: 0.7, scores: [] }, { threshold: null, scores: [0.5] }])!, 0.875);
});

test('the informative order puts images to review first, most informative first (unscored last, ties in file order), then the reviewed in file order', () => {
  const items = [
    { id: 1, done: true, informativeness: 0.99 },
    { id: 2, done: false, informativeness: 0.3 },
    { id: 3, done: false },
    { id: 4, done: false, informativeness: 0.9 },
    { id: 5, done: true, informativeness: 0.1 },
    { id: 6, done: false, informativeness: 0.3 },
    { id: 7, done: false, informativeness: 0 },
  ];
  const order = informativeOrder(items, (i) => i.done).map((i) => i.id);
  assert.deepEqual(order, [4, 2, 6, 7, 3, 1, 5]);
  assert.deepEqual(items.map((i) => i.id), [1, 2, 3, 4, 5, 6, 7], 'the input is left as it was');
});

test('the batch recorder stores the lesion map’s peak and the threshold its findings were cut at, and the worklist scores them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'review-informative-'));
  try {
    const file = join(dir, 'frame.png');
    writeFileSync(file, 'not really a png: only hashed');
    const data = new Float32Array(16).fill(0.1);
    data[5] = 0.7;
    assert.equal(mapPeak({ width: 4, height: 4, data }), data[5]);
    assert.equal(mapPeak({ width: 1, height: 1, data: new Float32Array([Number.NaN]) }), 0);
    const rec = storeRecorder(join(dir, 'review.sqlite'), { model: 'm', backend: 'cpu' });
    await rec.record(file, { width: 4, height: 4, findings: [], lesionMap: { map: { width: 4, height: 4, data }, threshold: 0.8 } });
    rec.finish();
    rec.close();
    const store = openStore(join(dir, 'review.sqlite'), { readonly: true });
    const row = store.sql.prepare('SELECT lesion_peak, threshold FROM run_images').get() as { lesion_peak: number; threshold: number };
    near(row.lesion_peak, data[5]);
    near(row.threshold, 0.8);
    near(store.worklist().items[0].informativeness!, data[5] / 0.8);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
