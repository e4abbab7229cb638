/** Colour sample layouts and colour spaces to interleaved RGB (PS3.3 C.7.6.3.1.2). */
import type { Samples } from './samples.ts';

/** Planar Configuration 1 (RRR…GGG…BBB…) to interleaved (RGBRGB…), as a new array of the same type. */
export function planarToInterleaved<T extends Samples>(planar: T, pixels: number): T {
  const out = new (planar.constructor as new (n: number) => T)(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    out[i * 3] = planar[i];
    out[i * 3 + 1] = planar[pixels + i];
    out[i * 3 + 2] = planar[2 * pixels + i];
  }
  return out;
}

/** YBR_FULL (full-range ITU-R BT.601 YCbCr) to RGB in place; `bits` sets the chroma offset and clamp. */
export function ybrFullToRgb(a: Samples, bits = 8): Samples {
  const max = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  for (let i = 0; i + 2 < a.length; i += 3) {
    const y = a[i];
    const cb = a[i + 1] - half;
    const cr = a[i + 2] - half;
    a[i] = clamp(Math.round(y + 1.402 * cr), max);
    a[i + 1] = clamp(Math.round(y - 0.344136 * cb - 0.714136 * cr), max);
    a[i + 2] = clamp(Math.round(y + 1.772 * cb), max);
  }
  return a;
}

function clamp(v: number, max: number): number {
  return v < 0 ? 0 : v > max ? max : v;
}

/**
 * YBR_FULL_422 as stored natively: each horizontal pixel pair is Y0 Y1 Cb Cr. Expands to interleaved
 * YBR_FULL (chroma repeated for both pixels); rows with an odd column count carry a padded last pair.
 */
export function ybr422ToYbrFull(src: Samples, rows: number, columns: number): Samples {
  const out = new (src.constructor as new (n: number) => Samples)(rows * columns * 3);
  const pairsPerRow = Math.ceil(columns / 2);
  for (let r = 0; r < rows; r++) {
    for (let p = 0; p < pairsPerRow; p++) {
      const s = (r * pairsPerRow + p) * 4;
      const cb = src[s + 2];
      const cr = src[s + 3];
      for (let k = 0; k < 2; k++) {
        const c = p * 2 + k;
        if (c >= columns) break;
        const o = (r * columns + c) * 3;
        out[o] = src[s + k];
        out[o + 1] = cb;
        out[o + 2] = cr;
      }
    }
  }
  return out;
}

/** Bytes a native YBR_FULL_422 frame occupies (two samples per pixel on average). */
export function ybr422FrameSamples(rows: number, columns: number): number {
  return rows * Math.ceil(columns / 2) * 4;
}
