/**
 * Pixels to screen: the VOI window (DICOM PS3.3 C.11.2.1.2 linear function), VOI LUT sequences, colour
 * pass-through and inversion, written straight into an ImageData's 32-bit view.
 *
 * These loops run on every mouse move while windowing, up to 4 M pixels each (2048² 16-bit), so they are
 * plain indexed loops with no allocation, no closures and one branch-free clamp per pixel.
 */
import type { FramePixels } from '../../../preload/contract.ts';
import { IDENTITY_8BIT, fullRange as valueRange, linearVoi, voiLutBytes, type Voi } from '../../../preload/windowing.ts';

export { IDENTITY_8BIT, type Voi };

export type VoiMode = { kind: 'window'; voi: Voi } | { kind: 'lut' };

/** True when this machine stores Uint32 pixels as ABGR in memory (every browser we target). */
const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const OPAQUE = LITTLE ? 0xff000000 : 0x000000ff;

/** A grey byte repeated over R, G, B with full alpha, in the platform's Uint32 byte order. */
const GREY = new Uint32Array(256);
for (let g = 0; g < 256; g++) GREY[g] = LITTLE ? (0xff000000 | (g << 16) | (g << 8) | g) >>> 0 : ((g << 24) | (g << 16) | (g << 8) | 0xff) >>> 0;

/** Greyscale values (after the modality LUT) through a linear window. */
export function windowGrey(data: Float32Array, voi: Voi, invert: boolean, out: Uint32Array): void {
  // preload/windowing.ts's linear function, inlined: windowByte(x) = clamp(floor(x·slope + offset)).
  const { slope, offset } = linearVoi(voi);
  const n = Math.min(data.length, out.length);
  if (invert) {
    for (let i = 0; i < n; i++) {
      let v = data[i] * slope + offset;
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      out[i] = GREY[255 - (v | 0)];
    }
  } else {
    for (let i = 0; i < n; i++) {
      let v = data[i] * slope + offset;
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      out[i] = GREY[v | 0];
    }
  }
}

/** Greyscale values through the file's VOI LUT sequence. */
export function lutGrey(data: Float32Array, lut: NonNullable<FramePixels['voiLut']>, invert: boolean, out: Uint32Array): void {
  const table = voiLutBytes(lut.data, lut.bits, invert);
  const last = table.length - 1;
  const first = lut.firstMapped;
  const n = Math.min(data.length, out.length);
  for (let i = 0; i < n; i++) {
    // voiLutIndex inlined: floor, then clamp to the table.
    let j = Math.floor(data[i] - first);
    j = j < 0 ? 0 : j > last ? last : j;
    out[i] = GREY[table[j]];
  }
}

/** Interleaved RGB bytes; the window applies per channel (IDENTITY_8BIT leaves them as they are). */
export function windowRgb(data: Uint8Array, voi: Voi, invert: boolean, out: Uint32Array): void {
  const { slope, offset } = linearVoi(voi);
  const table = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    const v = Math.min(255, Math.max(0, Math.floor(x * slope + offset)));
    table[x] = invert ? 255 - v : v;
  }
  const n = Math.min(data.length / 3, out.length);
  if (LITTLE) {
    for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = (OPAQUE | (table[data[j + 2]] << 16) | (table[data[j + 1]] << 8) | table[data[j]]) >>> 0;
  } else {
    for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = ((table[data[j]] << 24) | (table[data[j + 1]] << 16) | (table[data[j + 2]] << 8) | 0xff) >>> 0;
  }
}

/** Fill `out` for a frame in the given mode; returns the milliseconds it took. */
export function renderFrame(frame: FramePixels, mode: VoiMode, userInvert: boolean, out: Uint32Array): number {
  const t0 = performance.now();
  const invert = frame.channels === 1 && frame.invert ? !userInvert : userInvert;
  if (frame.channels === 3) windowRgb(frame.data as Uint8Array, mode.kind === 'window' ? mode.voi : IDENTITY_8BIT, userInvert, out);
  else if (mode.kind === 'lut' && frame.voiLut) lutGrey(frame.data as Float32Array, frame.voiLut, invert, out);
  else windowGrey(frame.data as Float32Array, mode.kind === 'window' ? mode.voi : fullRange(frame), invert, out);
  return performance.now() - t0;
}

export function fullRange(frame: Pick<FramePixels, 'min' | 'max'>): Voi {
  return valueRange(frame.min, frame.max);
}
