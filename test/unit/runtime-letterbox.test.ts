/**
 * The onnxruntime path's fast letterbox must be the detector's letterbox bit for bit, so that both
 * runtimes (and training, which uses preprocess.ts) see identical model inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { letterbox } from '../../main/detector/preprocess.ts';
import { letterboxRGB } from '../../main/runtime/letterbox.ts';

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
  test(`${w}×${h} into ${size}²: every value and the geometry equal preprocess.ts's letterbox`, () => {
    const img = image(w, h, w * 31 + h);
    const want = letterbox(img, size);
    const got = letterboxRGB(img, size);
    assert.deepEqual(got.box, want.box);
    assert.equal(got.input.length, want.input.length);
    for (let i = 0; i < want.input.length; i++) {
      if (got.input[i] !== want.input[i]) assert.fail(`value ${i} differs: ${got.input[i]} vs ${want.input[i]}`);
    }
  });
}

test('a buffer of the wrong length is refused like preprocess.ts refuses it', () => {
  assert.throws(() => letterboxRGB({ width: 4, height: 4, data: new Uint8Array(10) }, 32), /needs 48 bytes, got 10/);
});
