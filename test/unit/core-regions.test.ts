import assert from 'node:assert/strict';
import { test } from 'node:test';
import { regions8 } from '../../main/core/regions.ts';
import { rng } from '../../main/datasets/index.ts';

/** A plain flood fill, the definition regions8 must agree with. */
function floodFill(values: ArrayLike<number>, w: number, h: number, inside: (v: number) => boolean): number[][] {
  const seen = new Uint8Array(w * h);
  const out: number[][] = [];
  for (let s = 0; s < w * h; s++) {
    if (seen[s] || !inside(values[s])) continue;
    const cells: number[] = [];
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const i = stack.pop()!;
      cells.push(i);
      const x = i % w;
      const y = (i - x) / w;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const j = ny * w + nx;
          if (!seen[j] && inside(values[j])) {
            seen[j] = 1;
            stack.push(j);
          }
        }
    }
    out.push(cells.sort((a, b) => a - b));
  }
  return out;
}

test('8-connected regions agree with a flood fill on random grids: the same cells, in the order of their first cell, with their boxes, peaks and centroids', () => {
  const random = rng(7);
  for (let trial = 0; trial < 300; trial++) {
    const w = 1 + Math.floor(random() * 24);
    const h = 1 + Math.floor(random() * 24);
    const density = random();
    const values = Float32Array.from({ length: w * h }, () => (random() < density ? random() : Number.NaN));
    const inside = (v: number) => v >= 0.3;
    const got = regions8(values, w, h, inside, { cells: true });
    const want = floodFill(values, w, h, inside);
    assert.deepEqual(got.map((r) => r.cells), want, `trial ${trial} (${w}×${h})`);
    for (const r of got) {
      const xs = r.cells!.map((i) => i % w);
      const ys = r.cells!.map((i) => Math.floor(i / w));
      assert.equal(r.area, r.cells!.length);
      assert.deepEqual(r.box, [Math.min(...xs), Math.min(...ys), Math.max(...xs) + 1, Math.max(...ys) + 1]);
      assert.equal(r.peak, Math.max(...r.cells!.map((i) => values[i])));
      assert.equal(r.sumX, xs.reduce((a, b) => a + b, 0));
      assert.equal(r.sumY, ys.reduce((a, b) => a + b, 0));
    }
  }
});

test('regions meet at a corner (8-connectivity), a U joins below its arms, and a region as large as the grid needs no stack', () => {
  const diagonal = [1, 0, 0, 1];
  assert.equal(regions8(diagonal, 2, 2, (v) => v > 0).length, 1);
  // Two arms that only meet on the last row: one region, whose first cell is the left arm's top.
  const u = [1, 0, 1, 1, 0, 1, 1, 1, 1];
  const [region, ...rest] = regions8(u, 3, 3, (v) => v > 0, { cells: true });
  assert.equal(rest.length, 0);
  assert.deepEqual(region.cells, [0, 2, 3, 5, 6, 7, 8]);
  const side = 2000;
  const all = regions8(new Uint8Array(side * side).fill(1), side, side, (v) => v > 0);
  assert.equal(all.length, 1);
  assert.equal(all[0].area, side * side);
  assert.throws(() => regions8([1, 2, 3], 2, 2, () => true), /map has 3 values, expected 2×2/);
});
