/**
 * The one windowing formula, for the viewer (renderer) and for the pixels the detector and thumbnails get
 * (main): stored values after the modality transform → display bytes. Pure, with no DOM and no node.
 */

export interface Voi {
  center: number;
  width: number;
}

/** 8-bit values shown as they are: with c = 128, w = 256 the linear function below is y = x. */
export const IDENTITY_8BIT: Voi = { center: 128, width: 256 };

/** The window spanning [min, max] end to end (each end a whole value wide). */
export function fullRange(min: number, max: number): Voi {
  const width = Math.max(1, max - min + 1);
  return { center: min + width / 2, width };
}

/** `byte = clamp(floor(x · slope + offset), 0, 255)`: the linear function as one multiply-add per pixel. */
export interface LinearVoi {
  slope: number;
  offset: number;
}

/**
 * DICOM's linear VOI function (PS3.3 C.11.2.1.2.1), to bytes:
 *   x ≤ c − 0.5 − (w − 1)/2 → 0;  x > c − 0.5 + (w − 1)/2 → 255;  else ((x − (c − 0.5)) / (w − 1) + 0.5) · 255,
 * rounded half up (the + 0.5 in `offset`), so every caller rounds alike. A width of 1 or less is a step at c − 0.5.
 */
export function linearVoi(voi: Voi): LinearVoi {
  if (!(voi.width > 1)) return { slope: 1e9, offset: -(voi.center - 0.5) * 1e9 };
  const slope = 255 / (voi.width - 1);
  return { slope, offset: 127.5 - (voi.center - 0.5) * slope + 0.5 };
}

/** One value through `linearVoi` (the renderer inlines the same expression in its per-pixel loops). */
export function windowByte(x: number, f: LinearVoi): number {
  const v = x * f.slope + f.offset;
  return v < 0 ? 0 : v >= 255 ? 255 : v | 0;
}

/** A VOI LUT's entries as display bytes (its output range is 0 … 2^bits − 1), inverted for MONOCHROME1 when asked. */
export function voiLutBytes(data: ArrayLike<number>, bits: number, invert = false): Uint8Array {
  const scale = 255 / (2 ** bits - 1 || 1);
  const table = new Uint8Array(data.length);
  for (let j = 0; j < data.length; j++) {
    const g = Math.min(255, Math.max(0, Math.round(data[j] * scale)));
    table[j] = invert ? 255 - g : g;
  }
  return table;
}

/** The LUT entry for value `x`: values below the first mapped one take the first entry, above the last the last. */
export function voiLutIndex(x: number, firstMapped: number, entries: number): number {
  const j = Math.floor(x - firstMapped);
  return j < 0 ? 0 : j >= entries ? entries - 1 : j;
}
