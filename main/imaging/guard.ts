/** Refuses declared image sizes that would need absurd memory, before anything is allocated for them. */
import { imagingError } from './errors.ts';

/** Decoded bytes of all frames together. */
export const MAX_DECODED_BYTES = 2 * 1024 ** 3;
export const MAX_DIMENSION = 65535;
export const MAX_FRAMES = 100_000;

export interface DeclaredSize {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

export function checkDeclaredSize(s: DeclaredSize, file: string, limit = MAX_DECODED_BYTES): void {
  if (!(s.rows > 0) || !(s.columns > 0)) throw imagingError('DECODE_FAILED', file, `image has no size (rows ${s.rows}, columns ${s.columns})`);
  if (s.rows > MAX_DIMENSION || s.columns > MAX_DIMENSION) {
    throw imagingError('TOO_LARGE', file, `declared size ${s.columns}x${s.rows} exceeds ${MAX_DIMENSION} pixels on a side`);
  }
  if (s.frames > MAX_FRAMES) throw imagingError('TOO_LARGE', file, `declares ${s.frames} frames (at most ${MAX_FRAMES})`);
  if (![1, 3, 4].includes(s.samplesPerPixel)) throw imagingError('UNSUPPORTED', file, `Samples per Pixel ${s.samplesPerPixel} is not supported (1 or 3)`);
  if (![1, 8, 16, 32, 64].includes(s.bitsAllocated)) throw imagingError('UNSUPPORTED', file, `Bits Allocated ${s.bitsAllocated} is not supported`);
  const bytes = s.rows * s.columns * s.frames * s.samplesPerPixel * Math.max(1, s.bitsAllocated / 8);
  if (bytes > limit) {
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    throw imagingError('TOO_LARGE', file, `declared image (${s.columns}x${s.rows}, ${s.frames} frame(s), ${s.samplesPerPixel} sample(s) of ${s.bitsAllocated} bits) needs ${gib(bytes)}; the limit is ${gib(limit)}`);
  }
}
