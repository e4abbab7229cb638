/** The ground-truth outline: segments along the pixel edges of a mask, merged where collinear. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskOutline } from '../../renderer/src/viewer/outline.ts';

const segments = (s: Float32Array) => Array.from({ length: s.length / 4 }, (_, i) => [...s.subarray(i * 4, i * 4 + 4)]);

test('a rectangle of lesion pixels is outlined by its four sides, one segment each', () => {
  const w = 5;
  const m = new Uint8Array(w * 4);
  for (let y = 1; y < 3; y++) for (let x = 1; x < 4; x++) m[y * w + x] = 1;
  assert.deepEqual(segments(maskOutline(m, w, 4)), [
    [1, 1, 4, 1],
    [1, 3, 4, 3],
    [1, 1, 1, 3],
    [4, 1, 4, 3],
  ]);
});

test('a lesion touching the image border is closed along the border, and an empty mask has no outline', () => {
  const m = new Uint8Array([1, 1, 0, 0]);
  assert.deepEqual(segments(maskOutline(m, 2, 2)), [
    [0, 0, 2, 0],
    [0, 1, 2, 1],
    [0, 0, 0, 1],
    [2, 0, 2, 1],
  ]);
  assert.equal(maskOutline(new Uint8Array(9), 3, 3).length, 0);
});

test('the outline runs along every lesion/background pixel edge exactly once, on random masks', () => {
  let s = 3;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 20; trial++) {
    const [w, h] = [3 + Math.floor(rand() * 12), 3 + Math.floor(rand() * 12)];
    const m = Uint8Array.from({ length: w * h }, () => (rand() < 0.4 ? 1 : 0));
    const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < w && y < h ? m[y * w + x] : 0);
    const expected = new Set<string>();
    for (let y = 0; y <= h; y++) for (let x = 0; x < w; x++) if (at(x, y - 1) !== at(x, y)) expected.add(`h${x},${y}`);
    for (let x = 0; x <= w; x++) for (let y = 0; y < h; y++) if (at(x - 1, y) !== at(x, y)) expected.add(`v${x},${y}`);
    const drawn: string[] = [];
    for (const [x0, y0, x1, y1] of segments(maskOutline(m, w, h))) {
      if (y0 === y1) for (let x = x0; x < x1; x++) drawn.push(`h${x},${y0}`);
      else for (let y = y0; y < y1; y++) drawn.push(`v${x0},${y}`);
    }
    assert.equal(drawn.length, new Set(drawn).size, 'no edge drawn twice');
    assert.deepEqual(new Set(drawn), expected);
  }
});
