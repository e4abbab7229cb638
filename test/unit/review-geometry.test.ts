import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boxAt, dragBox, fitView, hitHandle, normBox, toImage, toScreen } from '../../renderer/src/review/geometry.ts';
import { maskBox, paintDisc, rleEncode as uiEncode } from '../../renderer/src/review/rle.ts';
import { checkRle, rleBox, rleDecode, rleEncode } from '../../main/review/rle.ts';

test('the review canvas view fits the image centred and maps screen and image coordinates both ways', () => {
  const v = fitView(200, 100, 424, 324, 12);
  assert.equal(v.scale, 2);
  assert.deepEqual([v.ox, v.oy], [12, 62]);
  assert.deepEqual(toImage(v, ...toScreen(v, 37, 81)), [37, 81]);
});

test('box handles are found under the pointer and dragging them edits, moves and clamps the box', () => {
  const v = { scale: 2, ox: 0, oy: 0 };
  const box: [number, number, number, number] = [10, 10, 30, 20];
  assert.equal(hitHandle(box, v, 20, 20), 'nw');
  assert.equal(hitHandle(box, v, 60, 30), 'e');
  assert.equal(hitHandle(box, v, 40, 30), 'move');
  assert.equal(hitHandle(box, v, 100, 100), null);
  assert.deepEqual(dragBox(box, 'se', 5, 5, 100, 100), [10, 10, 35, 25]);
  assert.deepEqual(dragBox(box, 'w', 30, 0, 100, 100), [30, 10, 40, 20], 'dragging past the other edge flips, never inverts');
  assert.deepEqual(dragBox(box, 'move', 200, -200, 100, 100), [80, 0, 100, 10], 'a move stays inside the image at full size');
  assert.equal(normBox(5, 5, 5.2, 9, 100, 100), null, 'no zero-width boxes');
  assert.deepEqual(normBox(50, 60, -5, 200, 100, 100), [0, 60, 50, 100]);
  const items = [{ id: 1, box: [0, 0, 50, 50] as [number, number, number, number] }, { id: 2, box: [10, 10, 20, 20] as [number, number, number, number] }];
  assert.equal(boxAt(items, { scale: 1, ox: 0, oy: 0 }, 15, 15)?.id, 2, 'the smaller nested box wins');
});

test('a brushed mask encodes to the same COCO RLE the store validates, and decodes back', () => {
  const w = 40, h = 30;
  const m = new Uint8Array(w * h);
  paintDisc(m, w, h, 20, 12, 5, 1);
  paintDisc(m, w, h, 20, 12, 2, 0);
  const rle = uiEncode(m, w, h);
  assert.deepEqual(rle, rleEncode(m, w, h), 'renderer and main encoders agree');
  assert.deepEqual(checkRle(rle, w, h), rle);
  assert.deepEqual(rleDecode(rle).data, m);
  assert.deepEqual(rleDecode(rle).data, m);
  assert.deepEqual(maskBox(m, w, h), rleBox(rle));
  assert.deepEqual(maskBox(m, w, h), [15, 7, 25, 17]);
  assert.equal(m[12 * w + 20], 0, 'the erased centre stays empty');
});

test('COCO RLE round-trips random masks, runs crossing columns and masks ending in a lesion run included', () => {
  let s = 11;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 30; trial++) {
    const [w, h] = [1 + Math.floor(rand() * 20), 1 + Math.floor(rand() * 20)];
    const p = rand();
    const m = Uint8Array.from({ length: w * h }, () => (rand() < p ? 1 : 0));
    assert.deepEqual(rleDecode(rleEncode(m, w, h)).data, m, `${w}×${h}`);
    // Sparse masks too (the encoder skips what lies outside the lesion's box), against a plain column walk.
    const sparse = new Uint8Array(w * h);
    for (let k = 0; k < 3; k++) sparse[Math.floor(rand() * w * h)] = 1;
    for (const mask of [m, sparse]) assert.deepEqual(rleEncode(mask, w, h).counts, naiveCounts(mask, w, h), `${w}×${h}`);
  }
});

/** COCO RLE counts by the definition: every pixel in column-major order. */
function naiveCounts(m: Uint8Array, w: number, h: number): number[] {
  const counts: number[] = [];
  let [current, run] = [0, 0];
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = m[y * w + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        [run, current] = [0, v];
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}
