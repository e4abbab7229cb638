import { maskBox } from '../../../preload/mask-rle.ts';

/**
 * The outline of a binary mask as line segments along pixel edges, in image pixel coordinates: every
 * edge between a lesion pixel and a non-lesion one (or the image border), with collinear neighbours
 * merged into one segment. Vectors rather than a raster, so the outline stays a thin crisp line at
 * any zoom, and an image's few thousand edges draw in one path. Only the mask's bounding box is
 * scanned: a lesion is small beside a large image.
 */
export function maskOutline(mask: Uint8Array, width: number, height: number): Float32Array {
  const box = maskBox(mask, width, height);
  if (!box) return new Float32Array(0);
  const [x0, y0] = box;
  const [x1, y1] = [box[2] - 1, box[3] - 1];
  let out = new Float32Array(256);
  let n = 0;
  const push = (a: number, b: number, c: number, d: number) => {
    if (n + 4 > out.length) {
      const grown = new Float32Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[n++] = a;
    out[n++] = b;
    out[n++] = c;
    out[n++] = d;
  };
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] ? 1 : 0);
  // Horizontal edges: the line y separates rows y-1 and y.
  for (let y = y0; y <= y1 + 1; y++) {
    let start = -1;
    for (let x = x0; x <= x1 + 1; x++) {
      const edge = x <= x1 && at(x, y - 1) !== at(x, y);
      if (edge && start < 0) start = x;
      else if (!edge && start >= 0) {
        push(start, y, x, y);
        start = -1;
      }
    }
  }
  // Vertical edges: the line x separates columns x-1 and x.
  for (let x = x0; x <= x1 + 1; x++) {
    let start = -1;
    for (let y = y0; y <= y1 + 1; y++) {
      const edge = y <= y1 && at(x - 1, y) !== at(x, y);
      if (edge && start < 0) start = y;
      else if (!edge && start >= 0) {
        push(x, start, x, y);
        start = -1;
      }
    }
  }
  return out.slice(0, n);
}
