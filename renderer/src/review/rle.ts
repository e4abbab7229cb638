/** Brush geometry for the review canvas; the mask codec is the contract's (preload/mask-rle.ts). */
export { type Rle, maskBox, rleEncode } from '../../../preload/mask-rle.ts';

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
