/** Letterbox pre-processing and the mapping of the lesion map back to original image coordinates. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { letterbox, letterboxGeometry, resize } from '../../main/detector/preprocess.ts';
import { argmax, cropMap, findings, imageCells, strongestQuery } from '../../main/detector/postprocess.ts';

test('letterbox keeps the aspect ratio, puts the image top-left, pads with zeros and maps bytes to [0, 1]', () => {
  const width = 200;
  const height = 100;
  const data = new Uint8Array(width * height * 3).fill(255);
  const { input, box } = letterbox({ width, height, data }, 64);
  assert.deepEqual([box.width, box.height, box.size], [64, 32, 64]);
  assert.equal(box.scale, 64 / 200);
  assert.equal(input.length, 64 * 64 * 3);
  assert.ok(Math.abs(input[(10 * 64 + 10) * 3] - 1) < 1e-6, 'inside the image: 255 → 1');
  assert.equal(input[(40 * 64 + 10) * 3], 0, 'below the image: padding');
  assert.ok(input.every((v) => v >= 0 && v <= 1 + 1e-6));
});

test('letterbox rejects a byte count that does not match the size', () => {
  assert.throws(() => letterbox({ width: 10, height: 10, data: new Uint8Array(299) }, 32), /needs 300 bytes/);
});

test('resize preserves a constant image and the mean of a gradient, shrinking and enlarging', () => {
  const flat = resize(new Float32Array(50 * 30).fill(7), 50, 30, 1, 13, 9);
  assert.ok(flat.every((v) => Math.abs(v - 7) < 1e-4));
  const ramp = new Float32Array(40).map((_, i) => i);
  const small = resize(ramp, 40, 1, 1, 10, 1);
  assert.ok(Math.abs(small.reduce((a, b) => a + b) / 10 - 19.5) < 0.5);
  assert.ok(small.every((v, i) => i === 0 || v > small[i - 1]), 'monotone ramp stays monotone');
  const big = resize(new Float32Array([0, 10]), 2, 1, 1, 8, 1);
  assert.ok(big.every((v, i) => i === 0 || v >= big[i - 1]));
});

test('findings map a hand-set lesion map back to the original image pixels', () => {
  // 400×200 image into a 64² input: scale 0.16, image region 64×32 → stride-4 map of 16×8 cells,
  // one cell = 4 / 0.16 = 25 image pixels.
  const box = letterboxGeometry(400, 200, 64);
  const cells = imageCells(box, 4);
  assert.deepEqual(cells, { cols: 16, rows: 8 });
  const full = new Float32Array(16 * 16);
  const set = (x: number, y: number, v: number) => (full[y * 16 + x] = v);
  for (let y = 1; y <= 2; y++) for (let x = 2; x <= 4; x++) set(x, y, 0.8);
  set(3, 2, 0.95);
  set(12, 6, 0.92); // a single-cell blip: too small to be a finding
  set(10, 12, 0.99); // in the padding: outside the image, cropped away
  const map = cropMap(full, 16, cells.cols, cells.rows);
  assert.deepEqual([map.width, map.height], [16, 8]);
  const found = findings(map, 4, box, 400, 200, { threshold: 0.5 });
  assert.equal(found.length, 1);
  assert.deepEqual(found[0].box, [50, 25, 125, 75]);
  assert.ok(Math.abs(found[0].score - 0.95) < 1e-6);
  assert.equal(found[0].area, 6 * 25 * 25);
  // a higher threshold keeps only the peak cell, which alone is too small
  assert.equal(findings(map, 4, box, 400, 200, { threshold: 0.9 }).length, 0);
  assert.equal(findings(map, 4, box, 400, 200, { threshold: 0.9, minCells: 1 }).length, 2);
});

test('findings are sorted by score and boxes are clamped to the image', () => {
  const box = letterboxGeometry(100, 100, 32); // scale 0.32, 8×8 cells of 12.5 px
  const map = { width: 8, height: 8, data: new Float32Array(64) };
  for (const i of [0, 1, 8, 9]) map.data[i] = 0.6;
  for (const i of [62, 63]) map.data[i] = 0.9;
  const found = findings(map, 4, box, 100, 100, { threshold: 0.5 });
  assert.deepEqual(found.map((f) => f.score.toFixed(1)), ['0.9', '0.6']);
  assert.deepEqual(found[0].box, [75, 87.5, 100, 100]);
  assert.deepEqual(found[1].box, [0, 0, 25, 25]);
});

test('finding areas count only the part of edge cells that lies inside the image', () => {
  const box = letterboxGeometry(90, 100, 32); // scale 0.32, region 29×32 → 8×8 cells of 12.5 px; the image ends at x = 90
  const map = { width: 8, height: 8, data: new Float32Array(64) };
  for (let y = 0; y < 8; y++) map.data[y * 8 + 7] = 0.8; // the last column: x from 87.5 to 100
  const [f] = findings(map, 4, box, 90, 100, { threshold: 0.5 });
  assert.deepEqual(f.box, [87.5, 0, 90, 100]);
  assert.equal(f.area, 2.5 * 100);
});

test('argmax finds the first largest value', () => {
  assert.equal(argmax([1, 5, 2, 5]), 1);
});

test('the non-local query is the stage position under the lesion map\'s strongest cell, clamped to the grid', () => {
  // A 16×16 heatmap at stride 4 peaking at (13, 6); the stage-4 grid (stride 16) is 4×4 cells.
  const data = new Float32Array(16 * 16);
  data[6 * 16 + 13] = 1;
  assert.equal(strongestQuery({ width: 16, height: 16, data }, 4, 16, 4), 1 * 4 + 3);
  // A cropped heatmap wider than the grid covers still maps inside it.
  const wide = new Float32Array(20 * 4);
  wide[3 * 20 + 19] = 1;
  assert.equal(strongestQuery({ width: 20, height: 4, data: wide }, 4, 16, 4), 0 * 4 + 3);
});

test('evaluation counts exactly the findings the viewer draws: a cell at the threshold is in both, a lone cell in neither', async () => {
  const { predictionsFromMap } = await import('../../main/evaluation/maps.ts');
  // Before one rule, findings kept `>= threshold` and evaluation `> threshold`: a region touching the
  // threshold exactly was drawn but never scored.
  const w = 8;
  const h = 6;
  const at = new Float32Array(w * h);
  at[1 * w + 1] = 0.5;
  at[1 * w + 2] = 0.5; // a two-cell region exactly at the threshold
  at[4 * w + 6] = 0.9; // a lone cell: speckle to both
  const box = letterboxGeometry(w * 4, h * 4, w * 4);
  const drawn = findings({ width: w, height: h, data: at }, 4, box, w * 4, h * 4, { threshold: 0.5 });
  const scored = predictionsFromMap(at, w, h, 4, 0.5);
  assert.equal(drawn.length, 1);
  assert.deepEqual(scored.map((p) => p.box), drawn.map((f) => f.box));

  // And on random maps, at several thresholds: the same regions, boxes and scores.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 50; trial++) {
    const map = new Float32Array(w * h).map(() => Math.round(random() * 10) / 10);
    for (const threshold of [0.3, 0.5, 0.8]) {
      const f = findings({ width: w, height: h, data: map }, 4, box, w * 4, h * 4, { threshold });
      const p = predictionsFromMap(map, w, h, 4, threshold);
      const key = (b: readonly number[], s: number) => `${b.join(',')}@${s}`;
      assert.deepEqual(p.map((q) => key(q.box, q.score)).sort(), f.map((q) => key(q.box, q.score)).sort(), `trial ${trial} threshold ${threshold}`);
    }
  }
});
