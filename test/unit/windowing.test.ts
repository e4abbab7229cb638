/**
 * One windowing formula (preload/windowing.ts): the viewer's per-pixel loops and the bytes main gives the
 * detector and thumbnails must agree to the byte. Before, each had its own copy; they rounded differently
 * and the viewer's "neutral" window for colour (127.5/256) brightened every value by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDENTITY_8BIT, fullRange, linearVoi, windowByte } from '../../preload/windowing.ts';
import { lutGrey, windowGrey, windowRgb } from '../../renderer/src/viewer/windowing.ts';
import { toRGB8 } from '../../main/imaging/pixels/display.ts';
import type { FrameData } from '../../main/imaging/types.ts';

/** The low byte of each little-endian RGBA pixel the viewer writes: its grey level (or red). */
function red(out: Uint32Array): number[] {
  return [...out].map((p) => p & 0xff);
}

function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

test('the linear VOI function follows DICOM PS3.3 C.11.2.1.2.1 at its ends and middle', () => {
  const voi = { center: 40, width: 400 };
  const f = linearVoi(voi);
  const lo = voi.center - 0.5 - (voi.width - 1) / 2;
  const hi = voi.center - 0.5 + (voi.width - 1) / 2;
  assert.equal(windowByte(lo, f), 0);
  assert.equal(windowByte(lo - 100, f), 0);
  assert.equal(windowByte(hi + 1, f), 255);
  assert.equal(windowByte(hi, f), 255);
  // ((x − (c − 0.5)) / (w − 1) + 0.5) · 255 at x = c − 0.5 is 127.5, rounded half up
  assert.equal(windowByte(voi.center - 0.5, f), 128);
  // a width of 1 is a step at c − 0.5
  const step = linearVoi({ center: 10, width: 1 });
  assert.deepEqual([windowByte(9, step), windowByte(9.5, step), windowByte(10, step)], [0, 0, 255]);
});

test('the identity window shows 8-bit values as they are, and is the full range of 0…255', () => {
  const f = linearVoi(IDENTITY_8BIT);
  for (let x = 0; x < 256; x++) assert.equal(windowByte(x, f), x);
  assert.deepEqual(fullRange(0, 255), IDENTITY_8BIT);
  const rgb = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
  const out = new Uint32Array(256);
  windowRgb(rgb, IDENTITY_8BIT, false, out);
  assert.deepEqual(red(out), [...Array(256).keys()]);
});

test('viewer and main window greyscale frames to the same bytes, for random values and windows', () => {
  const r = random(11);
  for (let trial = 0; trial < 40; trial++) {
    const n = 257;
    const scale = [1, 255, 4095, 65535][trial % 4];
    const data = Float32Array.from({ length: n }, () => Math.round((r() * 2 - 0.5) * scale * 4) / 4);
    const voi = trial % 5 === 0 ? { center: Math.round(r() * scale), width: 1 } : { center: (r() - 0.25) * scale, width: 1 + r() * scale };
    for (const invert of [false, true]) {
      const frame: FrameData = { frame: 0, rows: 1, columns: n, channels: 1, data, invert, min: 0, max: scale };
      const main = toRGB8(frame, voi).data.filter((_, i) => i % 3 === 0);
      const out = new Uint32Array(n);
      windowGrey(data, voi, invert, out);
      assert.deepEqual(red(out), [...main], `trial ${trial} invert ${invert} window ${voi.center}/${voi.width}`);
    }
  }
});

test('viewer and main map values through a VOI LUT to the same bytes, below, inside and above its range', () => {
  const lut = { firstMapped: -100, bits: 12, data: Uint16Array.from({ length: 300 }, (_, i) => Math.round((i / 299) ** 0.5 * 4095)) };
  const data = Float32Array.from({ length: 500 }, (_, i) => -250 + i + (i % 3) * 0.25);
  const frame: FrameData = { frame: 0, rows: 1, columns: data.length, channels: 1, data, invert: false, min: -250, max: 250, voiLut: lut };
  const main = toRGB8(frame, 'voi-lut').data.filter((_, i) => i % 3 === 0);
  const out = new Uint32Array(data.length);
  lutGrey(data, lut, false, out);
  assert.deepEqual(red(out), [...main]);
  assert.equal(main[0], 0);
  assert.equal(main[main.length - 1], 255);
});
