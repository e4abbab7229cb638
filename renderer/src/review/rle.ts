/** Brush geometry for the review canvas; the mask codec is the contract's (preload/mask-rle.ts). */
export { type Rle, rleEncode } from '../../../preload/mask-rle.ts';

/** Bounding box `[x0, y0, x1, y1]` (exclusive ends) of a row-major mask, or null when empty. */
export function maskBox(mask: Uint8Array, width: number, height: number): [number, number, number, number] | null {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

/** Paints a filled disc of `radius` image pixels at (cx, cy); `value` 1 paints, 0 erases. */
export function paintDisc(mask: Uint8Array, width: number, height: number, cx: number, cy: number, radius: number, value: 0 | 1): void {
  const r = Math.max(0.5, radius);
  const yMin = Math.max(0, Math.floor(cy - r)), yMax = Math.min(height - 1, Math.ceil(cy + r));
  const xMin = Math.max(0, Math.floor(cx - r)), xMax = Math.min(width - 1, Math.ceil(cx + r));
  for (let y = yMin; y <= yMax; y++) {
    for (let x = xMin; x <= xMax; x++) {
      const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      if (dx * dx + dy * dy <= r * r) mask[y * width + x] = value;
    }
  }
}
