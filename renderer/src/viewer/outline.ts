/**
 * The outline of a binary mask as line segments along pixel edges, in image pixel coordinates: every
 * edge between a lesion pixel and a non-lesion one (or the image border), with collinear neighbours
 * merged into one segment. Vectors rather than a raster, so the outline stays a thin crisp line at
 * any zoom, and an image's few thousand edges draw in one path.
 */
export function maskOutline(mask: ArrayLike<number>, width: number, height: number): Float32Array {
  const out: number[] = [];
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] ? 1 : 0);
  // Horizontal edges: the line y separates rows y-1 and y.
  for (let y = 0; y <= height; y++) {
    let start = -1;
    for (let x = 0; x <= width; x++) {
      const edge = x < width && at(x, y - 1) !== at(x, y);
      if (edge && start < 0) start = x;
      else if (!edge && start >= 0) {
        out.push(start, y, x, y);
        start = -1;
      }
    }
  }
  // Vertical edges: the line x separates columns x-1 and x.
  for (let x = 0; x <= width; x++) {
    let start = -1;
    for (let y = 0; y <= height; y++) {
      const edge = y < height && at(x - 1, y) !== at(x, y);
      if (edge && start < 0) start = y;
      else if (!edge && start >= 0) {
        out.push(x, start, x, y);
        start = -1;
      }
    }
  }
  return Float32Array.from(out);
}
