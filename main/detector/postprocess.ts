/**
 * Model outputs → what the studio shows: maps cropped to the image's region of the letterboxed input
 * (so each covers the image's full extent), and findings from connected components of the thresholded
 * lesion map, in the original image's pixel coordinates.
 */
import type { AttentionMap, Finding, Map2D } from '../../preload/contract.ts';
import type { Letterbox } from './preprocess.ts';
import { regions8 } from '../core/regions.ts';

/** Cells of a stride-`stride` map of the `box.size` input that the image covers (at least one). */
export function imageCells(box: Pick<Letterbox, 'width' | 'height'>, stride: number): { cols: number; rows: number } {
  return { cols: Math.max(1, Math.ceil(box.width / stride)), rows: Math.max(1, Math.ceil(box.height / stride)) };
}

/** Crop the top-left `cols × rows` of a row-major `side`-wide map. */
export function cropMap(data: ArrayLike<number>, side: number, cols: number, rows: number): Map2D {
  const out = new Float32Array(cols * rows);
  for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) out[y * cols + x] = data[y * side + x];
  return { width: cols, height: rows, data: out };
}

/**
 * A finding spans at least this many map cells: a lone cell above threshold is speckle. Evaluation cuts
 * its candidate lesions by the same rule (main/evaluation/maps.ts), so the findings its metrics count are
 * the ones the viewer draws.
 */
export const MIN_FINDING_CELLS = 2;

export interface ComponentOptions {
  threshold: number;
  /** Components smaller than this many map cells are noise, not findings. */
  minCells?: number;
}

/** One candidate lesion of a lesion map: its cells (row-major indices), their bounding box in cells, its peak. */
export interface Candidate {
  cells: number[];
  /** [x0, y0, x1, y1] in map cells, x1/y1 exclusive. */
  box: [number, number, number, number];
  score: number;
}

/**
 * The one rule for what a lesion map calls a lesion, which the viewer draws and evaluation counts alike:
 * an 8-connected region of cells with `value >= threshold`, of at least `minCells` cells (a lone cell is
 * speckle), scored by its peak value.
 */
export function lesionCandidates(data: ArrayLike<number>, w: number, h: number, threshold: number, minCells = MIN_FINDING_CELLS): Candidate[] {
  return regions8(data, w, h, (v) => v >= threshold, { cells: true })
    .filter((r) => r.area >= minCells)
    .map((r) => ({ cells: r.cells as number[], box: r.box, score: r.peak }));
}

/**
 * The findings of a lesion map (`lesionCandidates`). `map` covers the letterboxed image region at `stride`
 * model pixels per cell; boxes are returned in the original image's pixels (clamped to it), sorted by score.
 */
export function findings(map: Map2D, stride: number, box: Letterbox, imageWidth: number, imageHeight: number, options: ComponentOptions): Finding[] {
  const cellPx = stride / box.scale; // image pixels per map cell
  const out: Finding[] = [];
  for (const c of lesionCandidates(map.data, map.width, map.height, options.threshold, options.minCells ?? MIN_FINDING_CELLS)) {
    let area = 0;
    for (const i of c.cells) {
      const x = i % map.width;
      const y = (i - x) / map.width;
      // the cell's footprint in image pixels, clipped to the image (edge cells overhang it)
      area += Math.max(0, Math.min(imageWidth, (x + 1) * cellPx) - x * cellPx) * Math.max(0, Math.min(imageHeight, (y + 1) * cellPx) - y * cellPx);
    }
    const bx0 = Math.min(imageWidth, Math.max(0, c.box[0] * cellPx));
    const by0 = Math.min(imageHeight, Math.max(0, c.box[1] * cellPx));
    const bx1 = Math.min(imageWidth, Math.max(0, c.box[2] * cellPx));
    const by1 = Math.min(imageHeight, Math.max(0, c.box[3] * cellPx));
    if (bx1 <= bx0 || by1 <= by0) continue;
    out.push({ box: [round2(bx0), round2(by0), round2(bx1), round2(by1)], score: c.score, area: Math.round(area) });
  }
  return out.sort((a, b) => b.score - a.score);
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Index of the largest value (first one on ties). */
export function argmax(data: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < data.length; i++) if (data[i] > data[best]) best = i;
  return best;
}

/**
 * For the non-local block: the stage position (row-major over a `side`×`side` grid at `stride`) of the
 * query under the lesion map's strongest cell (the map is at `heatmapStride`), whose affinity row is the
 * attention map the studio shows.
 */
export function strongestQuery(heatmap: Map2D, heatmapStride: number, stride: number, side: number): number {
  const peak = argmax(heatmap.data);
  const px = peak % heatmap.width;
  const py = (peak - px) / heatmap.width;
  const ratio = stride / heatmapStride;
  return Math.min(side - 1, Math.floor(py / ratio)) * side + Math.min(side - 1, Math.floor(px / ratio));
}

/**
 * One attention output of the network for one image (`data`, shaped `dims` after the batch axis:
 * spatial [side, side, 1], non-local [side², side²]) as the map over the image's extent. The grid side is
 * read from the output itself, not from the layer's name: gates sit at stages and in the decoder.
 * A non-local map is the row of the query position where the lesion heatmap is strongest.
 */
export function attentionOverImage(
  module: Pick<AttentionMap, 'name' | 'kind' | 'stage' | 'supervised'>,
  data: Float32Array,
  dims: readonly number[],
  inputSize: number,
  box: Letterbox,
  heatmap: Map2D,
  heatmapStride: number,
): AttentionMap {
  const { kind } = module;
  const side = kind === 'spatial' ? dims[1] : Math.round(Math.sqrt(dims[1]));
  const stride = inputSize / side;
  const cells = imageCells(box, stride);
  if (kind === 'spatial') return { ...module, map: cropMap(data, side, cells.cols, cells.rows) };
  const query = strongestQuery(heatmap, heatmapStride, stride, side);
  const positions = side * side;
  return { ...module, map: cropMap(data.subarray(query * positions, (query + 1) * positions), side, cells.cols, cells.rows) };
}

/**
 * The image-level "lesion present" score: the lesion map's peak over the image, clamped to [0, 1] (0 for an
 * empty map or one of NaNs). What the detector reports with its findings and the review worklist's
 * informative order reads, and evaluation's image AUROC ranks (evaluation/maps.ts imageLesionMap).
 */
export function lesionScore(map: Map2D): number {
  let peak = 0;
  for (let i = 0; i < map.data.length; i++) if (map.data[i] > peak) peak = map.data[i];
  return Math.min(1, peak);
}

/**
 * A row-major `w × h` map read at the fractional cell position (`fx`, `fy`), cell centres at integers,
 * bilinearly between the four nearest cells and clamped at the edges: the one sampling rule of evaluation's
 * upsampled maps and of the review store's lesion outlines, so an outline is the pixels evaluation would
 * score as lesion.
 */
export function bilinearAt(map: ArrayLike<number>, w: number, h: number, fx: number, fy: number): number {
  const x = Math.min(w - 1, Math.max(0, fx));
  const y = Math.min(h - 1, Math.max(0, fy));
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const x1 = Math.min(w - 1, x0 + 1), y1 = Math.min(h - 1, y0 + 1);
  const tx = x - x0, ty = y - y0;
  const top = map[y0 * w + x0] * (1 - tx) + map[y0 * w + x1] * tx;
  const bottom = map[y1 * w + x0] * (1 - tx) + map[y1 * w + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}
