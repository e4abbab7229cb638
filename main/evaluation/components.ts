/**
 * Connected components of binary masks and probability maps: ground-truth lesions come from masks
 * (ignoring specks, e.g. kvasir's stray pixel at (0,0)), predicted boxes from thresholded maps.
 */
import type { Box } from '../../preload/contract.ts';

export interface Component {
  /** 1-based label in `labels`. */
  label: number;
  /** [x0, y0, x1, y1], x1/y1 exclusive (pixel edges), so area-like maths needs no ±1. */
  box: Box;
  area: number;
  /** Highest value of the source map inside the component (1 for binary masks). */
  peak: number;
  /** Centroid in pixels. */
  cx: number;
  cy: number;
}

export interface Labelling {
  width: number;
  height: number;
  /** 0 = background, else the component's label (components under the size limit are 0). */
  labels: Int32Array;
  components: Component[];
}

/**
 * 8-connected components of `value > threshold` (iterative flood fill with an explicit stack: no
 * recursion limits on large lesions). Components smaller than `minArea` are dropped and relabelled 0.
 */
export function connectedComponents(values: ArrayLike<number>, width: number, height: number, threshold = 0.5, minArea = 10): Labelling {
  const n = width * height;
  if (values.length !== n) throw new Error(`map has ${values.length} values, expected ${width}x${height}`);
  const labels = new Int32Array(n);
  const components: Component[] = [];
  const stack = new Int32Array(n);
  let next = 1;
  for (let start = 0; start < n; start++) {
    if (labels[start] !== 0 || !(values[start] > threshold)) continue;
    const label = next++;
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    let area = 0;
    let peak = -Infinity;
    let sx = 0;
    let sy = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    const members: number[] = [];
    while (top > 0) {
      const p = stack[--top];
      members.push(p);
      const x = p % width;
      const y = (p - x) / width;
      area++;
      sx += x;
      sy += y;
      if (values[p] > peak) peak = values[p];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if ((dx === 0 && dy === 0) || nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (labels[q] === 0 && values[q] > threshold) {
            labels[q] = label;
            stack[top++] = q;
          }
        }
      }
    }
    if (area < minArea) {
      for (const p of members) labels[p] = -1;
      continue;
    }
    components.push({ label, box: [x0, y0, x1 + 1, y1 + 1], area, peak, cx: sx / area, cy: sy / area });
  }
  // Dropped specks were marked -1 so the scan above did not revisit them; they are background.
  for (let i = 0; i < n; i++) if (labels[i] < 0) labels[i] = 0;
  // Relabel 1..k in order so labels index `components` directly.
  const remap = new Int32Array(next);
  components.forEach((c, i) => {
    remap[c.label] = i + 1;
    c.label = i + 1;
  });
  for (let i = 0; i < n; i++) if (labels[i] > 0) labels[i] = remap[labels[i]];
  return { width, height, labels, components };
}

export function boxIoU(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}
