/**
 * The detector's fast letterbox (used by both runtimes and by training) must be, bit for bit, the plain
 * definition: preprocess.ts's separable triangle `resize` of the bytes, stored as float32, divided by 255,
 * placed top-left in a zero square.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { letterbox, letterboxGeometry, resize, type RGBImage } from '../../main/detector/preprocess.ts';

/** The definition the fast letterbox must reproduce. */
function reference(image: RGBImage, size: number) {
  const box = letterboxGeometry(image.width, image.height, size);
  const resized = resize(image.data, image.width, image.height, 3, box.width, box.height);
  const input = new Float32Array(size * size * 3);
  const rowLen = box.width * 3;
  for (let y = 0; y < box.height; y++) for (let i = 0; i < rowLen; i++) input[y * size * 3 + i] = resized[y * rowLen + i] / 255;
  return { input, box };
}

function image(width: number, height: number, seed: number) {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  return { width, height, data };
}

const CASES: [number, number, number][] = [
  [622, 529, 256], // a Kvasir polyp image, shrunk
  [622, 529, 512],
  [300, 150, 128],
  [40, 300, 64], // tall, narrow
  [100, 60, 256], // enlarged
  [1, 1, 32],
  [512, 512, 512], // same size
  [513, 17, 64],
];

for (const [w, h, size] of CASES) {
  test(`${w}×${h} into ${size}²: every value and the geometry equal the resize-divide-pad definition`, () => {
    const img = image(w, h, w * 31 + h);
    const want = reference(img, size);
    const got = letterbox(img, size);
    assert.deepEqual(got.box, want.box);
    assert.equal(got.input.length, want.input.length);
    for (let i = 0; i < want.input.length; i++) {
      if (got.input[i] !== want.input[i]) assert.fail(`value ${i} differs: ${got.input[i]} vs ${want.input[i]}`);
    }
  });
}

test('a buffer of the wrong length is refused', () => {
  assert.throws(() => letterbox({ width: 4, height: 4, data: new Uint8Array(10) }, 32), /needs 48 bytes, got 10/);
});
