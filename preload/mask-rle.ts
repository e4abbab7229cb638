/**
 * The contract's mask format (`ReviewFinding.mask`): COCO uncompressed RLE. `size` is [height, width];
 * `counts` are alternating run lengths of 0 and 1 over the mask in column-major (Fortran) order, starting
 * with a run of zeros (possibly 0), which is what pycocotools' `frPyObjects` takes. Pure, so main (store,
 * exports, training) and the renderer (brush) share one codec.
 */
export interface Rle {
  counts: number[];
  size: [number, number];
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

/**
 * Encodes a row-major 0/1 mask (`width * height` bytes) as COCO uncompressed RLE. The column-major walk
 * is confined to the lesion's bounding box (found in one row-major pass): outside it every run is zeros,
 * so a small lesion on a large image costs little more than that one pass.
 */
export function rleEncode(mask: Uint8Array, width: number, height: number): Rle {
  const box = maskBox(mask, width, height);
  if (!box) return { counts: [width * height], size: [height, width] };
  const [x0, y0] = box;
  const [x1, y1] = [box[2] - 1, box[3] - 1];
  const counts: number[] = [];
  let current = 0;
  // Zeros before the box's first column.
  let run = x0 * height;
  // Zeros outside the box end a lesion run, as any zero does.
  const zeros = (n: number) => {
    if (n > 0 && current === 1) {
      counts.push(run);
      run = 0;
      current = 0;
    }
    run += n;
  };
  for (let x = x0; x <= x1; x++) {
    // Above the box in this column.
    zeros(y0);
    for (let y = y0; y <= y1; y++) {
      const v = mask[y * width + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
    // Below the box in this column.
    zeros(height - 1 - y1);
  }
  // After the box's last column.
  zeros((width - 1 - x1) * height);
  counts.push(run);
  return { counts, size: [height, width] };
}

/** Decodes to a row-major 0/1 mask. */
export function rleDecode(rle: Rle): { width: number; height: number; data: Uint8Array } {
  const [height, width] = rle.size;
  const data = new Uint8Array(width * height);
  // Column-major runs: walk (x, y) along with the run instead of dividing every index.
  let x = 0;
  let y = 0;
  let v = 0;
  for (const c of rle.counts) {
    if (v) {
      for (let k = 0; k < c; k++) {
        data[y * width + x] = 1;
        if (++y === height) {
          y = 0;
          x++;
        }
      }
    } else {
      const at = x * height + y + c;
      x = Math.floor(at / height);
      y = at - x * height;
    }
    v ^= 1;
  }
  return { width, height, data };
}

export function rleArea(rle: Rle): number {
  let area = 0;
  for (let i = 1; i < rle.counts.length; i += 2) area += rle.counts[i];
  return area;
}

/** The mask's bounding box as `[x0, y0, x1, y1]` (x1, y1 exclusive), or null for an empty mask. */
export function rleBox(rle: Rle): [number, number, number, number] | null {
  const [height] = rle.size;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  let i = 0;
  for (let r = 0; r < rle.counts.length; r++) {
    const c = rle.counts[r];
    if (r % 2 === 1 && c > 0) {
      const first = i, last = i + c - 1;
      const fx = Math.floor(first / height), lx = Math.floor(last / height);
      x0 = Math.min(x0, fx);
      x1 = Math.max(x1, lx + 1);
      if (fx === lx) {
        y0 = Math.min(y0, first - fx * height);
        y1 = Math.max(y1, last - lx * height + 1);
      } else {
        // The run wraps a column: it covers every row from its start down, and from the top to its end.
        y0 = 0;
        y1 = height;
      }
    }
    i += c;
  }
  return x0 === Infinity ? null : [x0, y0, x1, y1];
}
