/**
 * Connected components of binary masks and probability maps: ground-truth lesions come from masks
 * (ignoring specks, e.g. kvasir's stray pixel at (0,0)), predicted boxes from thresholded maps.
 */
import type { Box } from '../../preload/contract.ts';
import { regions8 } from '../core/regions.ts';

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

/** 8-connected components of `value > threshold` (core/regions.ts). Components smaller than `minArea` are dropped and labelled 0. */
export function connectedComponents(values: ArrayLike<number>, width: number, height: number, threshold = 0.5, minArea = 10): Labelling {
  const labels = new Int32Array(width * height);
  const components: Component[] = [];
  for (const r of regions8(values, width, height, (v) => v > threshold, { cells: true })) {
    if (r.area < minArea) continue;
    const label = components.length + 1;
    for (const i of r.cells as number[]) labels[i] = label;
    components.push({ label, box: r.box, area: r.area, peak: r.peak, cx: r.sumX / r.area, cy: r.sumY / r.area });
  }
  return { width, height, labels, components };
}

export function boxIoU(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}
