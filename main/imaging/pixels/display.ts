/** What a person sees: VOI windowing (linear, or the file's VOI LUT), MONOCHROME1 inversion, thumbnails. */
import type { FrameData } from '../types.ts';
import { fullRange, linearVoi, voiLutBytes, voiLutIndex, windowByte } from '../../../preload/windowing.ts';

export type WindowChoice = { center: number; width: number } | 'voi-lut';

export function minMax(a: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return { min: 0, max: 0 };
  return { min, max };
}

/**
 * A window from the data when the file has none: the 0.5th to 99.5th percentile of (a sample of) the
 * values, so a few outliers (padding, markers) do not wash the image out.
 */
export function windowFromData(values: ArrayLike<number>): { center: number; width: number; explanation: string } {
  const n = values.length;
  if (n === 0) return { center: 0.5, width: 1, explanation: 'computed from the data' };
  const step = Math.max(1, Math.floor(n / 65536));
  const sample: number[] = [];
  for (let i = 0; i < n; i += step) if (Number.isFinite(values[i])) sample.push(values[i]);
  sample.sort((a, b) => a - b);
  if (sample.length === 0) return { center: 0.5, width: 1, explanation: 'computed from the data' };
  let lo = sample[Math.floor(sample.length * 0.005)];
  let hi = sample[Math.min(sample.length - 1, Math.ceil(sample.length * 0.995))];
  if (!(hi > lo)) {
    lo = sample[0];
    hi = sample[sample.length - 1];
  }
  const width = hi > lo ? hi - lo : 1;
  return { center: hi > lo ? (lo + hi) / 2 : lo, width, explanation: 'computed from the data' };
}

/**
 * Greyscale display bytes by the DICOM linear VOI function (PS3.3 C.11.2.1.2.1), or the file's VOI LUT;
 * colour frames pass through. Without a window the frame's full value range is shown.
 */
export function toRGB8(frame: FrameData, window?: WindowChoice): { width: number; height: number; data: Uint8Array } {
  const width = frame.columns;
  const height = frame.rows;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (frame.channels === 3) {
    out.set((frame.data as Uint8Array).subarray(0, n * 3));
    return { width, height, data: out };
  }
  const values = frame.data as Float32Array;
  const grey = new Uint8Array(n);
  if (window === 'voi-lut' && frame.voiLut) {
    const table = voiLutBytes(frame.voiLut.data, frame.voiLut.bits);
    const { firstMapped } = frame.voiLut;
    for (let i = 0; i < n; i++) grey[i] = table[voiLutIndex(values[i], firstMapped, table.length)];
  } else {
    const f = linearVoi(window && window !== 'voi-lut' ? window : fullRange(frame.min, frame.max));
    for (let i = 0; i < n; i++) grey[i] = windowByte(values[i], f);
  }
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    const g = frame.invert ? 255 - grey[i] : grey[i];
    out[o] = g;
    out[o + 1] = g;
    out[o + 2] = g;
  }
  return { width, height, data: out };
}

/** A small RGBA preview (box-filtered), at most `maxSide` pixels on the long side. */
export function thumbnail(frame: FrameData, window?: WindowChoice, maxSide = 96): { width: number; height: number; rgba: Uint8Array } {
  const rgb = toRGB8(frame, window);
  const scale = Math.min(1, maxSide / Math.max(rgb.width, rgb.height));
  const tw = Math.max(1, Math.round(rgb.width * scale));
  const th = Math.max(1, Math.round(rgb.height * scale));
  const rgba = new Uint8Array(tw * th * 4);
  for (let y = 0; y < th; y++) {
    const y0 = Math.floor((y * rgb.height) / th);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * rgb.height) / th));
    for (let x = 0; x < tw; x++) {
      const x0 = Math.floor((x * rgb.width) / tw);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * rgb.width) / tw));
      let r = 0;
      let g = 0;
      let b = 0;
      let count = 0;
      // Sample at most 4x4 source pixels per thumbnail pixel: cheap on large images, still smooth.
      const sy = Math.max(1, Math.floor((y1 - y0) / 4));
      const sx = Math.max(1, Math.floor((x1 - x0) / 4));
      for (let yy = y0; yy < y1; yy += sy) {
        for (let xx = x0; xx < x1; xx += sx) {
          const i = (yy * rgb.width + xx) * 3;
          r += rgb.data[i];
          g += rgb.data[i + 1];
          b += rgb.data[i + 2];
          count++;
        }
      }
      const o = (y * tw + x) * 4;
      rgba[o] = Math.round(r / count);
      rgba[o + 1] = Math.round(g / count);
      rgba[o + 2] = Math.round(b / count);
      rgba[o + 3] = 255;
    }
  }
  return { width: tw, height: th, rgba };
}
