/**
 * COCO uncompressed RLE for the brush: column-major runs starting with zeros, size [height, width]. The
 * same format main/review/rle.ts validates and the COCO export writes; kept here so the renderer bundle
 * does not reach into main/.
 */
export interface Rle {
  counts: number[];
  size: [number, number];
}

/** Row-major 0/1 mask → RLE. */
export function rleEncode(mask: Uint8Array, width: number, height: number): Rle {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = mask[y * width + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { counts, size: [height, width] };
}

/** RLE → row-major 0/1 mask. */
export function rleDecode(rle: Rle): Uint8Array {
  const [height, width] = rle.size;
  const data = new Uint8Array(width * height);
  let i = 0;
  let v = 0;
  for (const c of rle.counts) {
    if (v) {
      for (let k = i; k < i + c; k++) {
        const x = Math.floor(k / height);
        data[(k - x * height) * width + x] = 1;
      }
    }
    i += c;
    v ^= 1;
  }
  return data;
}

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
