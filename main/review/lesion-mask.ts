/**
 * Each model finding's own lesion shape, for the review store (issue 24). A finding is a box, but the
 * detector found it as a connected component of its thresholded lesion map (main/detector/postprocess.ts
 * `lesionCandidates`): that component, mapped to image pixels, is what an accepted finding should train
 * as, not its filled box. The batch hands the lesion map it drew the findings from (over the image's full
 * extent) and the threshold it used; this recomputes the same components and matches each to its finding
 * by box, so no second rule for what a lesion is exists here.
 *
 * The mask is COCO uncompressed RLE (preload/mask-rle.ts) at the image's size, written straight from the
 * cells (no image-sized buffer): a pixel belongs to the lesion when the map cell its centre falls in does.
 * Component outlines follow the map's cells, so a mask has a few runs per column and stays small.
 */
import type { Box, Finding, Map2D } from '../../preload/contract.ts';
import { MIN_FINDING_CELLS, bilinearAt, lesionCandidates } from '../detector/postprocess.ts';
import type { Rle } from './rle.ts';

/** A mask with more runs than this is not a lesion outline: the finding keeps its box alone. */
export const MAX_MASK_RUNS = 200_000;

/** How far (image pixels) a component's box may lie from its finding's (rounded to 0.01 px) and still be it. */
const MATCH_TOLERANCE = 0.05;

/**
 * The lesion mask of each finding (aligned with `findings`), or undefined where none matches a component
 * of `map` at `threshold` (a finding from elsewhere) or the mask would be empty or too large. `map` covers
 * the image's full extent, its longer side spanning the image's longer side (the detector's letterbox).
 *
 * `outline`: the threshold the model outlines lesions at (its card's Dice-calibrated `threshold`). A finding
 * is cut at the operating threshold, often far higher (0.8), whose component is only the lesion's core:
 * trained on, it would teach the next model to draw lesions smaller than they are. With `outline`, the mask
 * is the bilinearly upsampled map at `outline` (as evaluation scores an outline) over the regions at
 * `outline` that hold the finding's component. Without it, the component's cells.
 */
export function findingMasks(map: Map2D, width: number, height: number, threshold: number, findings: readonly Pick<Finding, 'box' | 'score'>[], outline?: number, minCells = MIN_FINDING_CELLS): (Rle | undefined)[] {
  const out: (Rle | undefined)[] = findings.map(() => undefined);
  if (!findings.length || map.width <= 0 || map.height <= 0 || map.data.length !== map.width * map.height) return out;
  // Image pixels per map cell: the letterbox scales the longer side to the input, whose map is input / stride cells.
  const cellPx = Math.max(width, height) / Math.max(map.width, map.height);
  const taken = new Set<number>();
  const regions = outline === undefined ? [] : lesionCandidates(map.data, map.width, map.height, outline, 1);
  for (const c of lesionCandidates(map.data, map.width, map.height, threshold, minCells)) {
    const box: Box = [
      Math.min(width, Math.max(0, c.box[0] * cellPx)),
      Math.min(height, Math.max(0, c.box[1] * cellPx)),
      Math.min(width, Math.max(0, c.box[2] * cellPx)),
      Math.min(height, Math.max(0, c.box[3] * cellPx)),
    ];
    // The finding with this box, and this peak where two components share a box.
    const fits = (f: Pick<Finding, 'box'>, i: number) => !taken.has(i) && f.box.every((v, k) => Math.abs(v - box[k]) <= MATCH_TOLERANCE);
    let index = findings.findIndex((f, i) => fits(f, i) && f.score === c.score);
    if (index < 0) index = findings.findIndex(fits);
    if (index < 0) continue;
    taken.add(index);
    if (outline === undefined) {
      out[index] = componentRle(c.cells, map.width, cellPx, width, height);
      continue;
    }
    const own = new Set(c.cells);
    const cells = regions.filter((r) => r.cells.some((i) => own.has(i))).flatMap((r) => r.cells);
    out[index] = (cells.length ? outlineRle(map, cells, outline, cellPx, width, height) : undefined) ?? componentRle(c.cells, map.width, cellPx, width, height);
  }
  return out;
}

/**
 * COCO RLE of the pixels where the bilinearly upsampled map (half-pixel centres, as evaluation's
 * `upsample`) reaches `outline`, among those whose cell is one of `cells` or touches one (an outline falls
 * between cell centres), so a neighbouring lesion's pixels never join.
 */
function outlineRle(map: Map2D, cells: readonly number[], outline: number, cellPx: number, width: number, height: number): Rle | undefined {
  const w = map.width;
  const h = map.height;
  const near = new Set<number>();
  for (const i of cells) {
    const x = i % w;
    const y = (i - x) / w;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h) near.add((y + dy) * w + x + dx);
  }
  const value = (px: number, py: number) => bilinearAt(map.data, w, h, (px + 0.5) / cellPx - 0.5, (py + 0.5) / cellPx - 0.5);
  const cellOf = (p: number, n: number) => Math.min(n - 1, Math.floor((p + 0.5) / cellPx));
  return rleOf([...near], w, cellPx, width, height, (px, py) => near.has(cellOf(py, h) * w + cellOf(px, w)) && value(px, py) >= outline);
}

/** COCO RLE (column-major runs, starting with zeros) of the pixels whose centre lies in one of `cells`. */
export function componentRle(cells: readonly number[], mapWidth: number, cellPx: number, width: number, height: number): Rle | undefined {
  const member = new Set(cells);
  const cellOf = (p: number) => Math.floor((p + 0.5) / cellPx);
  return rleOf(cells, mapWidth, cellPx, width, height, (px, py) => member.has(cellOf(py) * mapWidth + cellOf(px)));
}

/** COCO RLE of the pixels `inside` says, looked for only over the pixels `cells` cover. */
function rleOf(cells: readonly number[], mapWidth: number, cellPx: number, width: number, height: number, inside: (px: number, py: number) => boolean): Rle | undefined {
  let cx0 = Infinity, cy0 = Infinity, cx1 = -1, cy1 = -1;
  for (const i of cells) {
    const x = i % mapWidth;
    const y = (i - x) / mapWidth;
    cx0 = Math.min(cx0, x);
    cy0 = Math.min(cy0, y);
    cx1 = Math.max(cx1, x);
    cy1 = Math.max(cy1, y);
  }
  if (cx1 < 0) return undefined;
  // The pixel rows and columns the cells can hold, clipped to the image.
  const px0 = Math.max(0, Math.ceil(cx0 * cellPx - 0.5)), px1 = Math.min(width, Math.ceil((cx1 + 1) * cellPx - 0.5));
  const py0 = Math.max(0, Math.ceil(cy0 * cellPx - 0.5)), py1 = Math.min(height, Math.ceil((cy1 + 1) * cellPx - 0.5));
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  let area = 0;
  const push = (v: number, n: number) => {
    if (n <= 0) return;
    if (v !== current) {
      counts.push(run);
      run = 0;
      current = v;
    }
    run += n;
  };
  push(0, px0 * height);
  for (let x = px0; x < px1; x++) {
    push(0, py0);
    for (let y = py0; y < py1; y++) {
      const v = inside(x, y) ? 1 : 0;
      area += v;
      push(v, 1);
    }
    push(0, height - py1);
    if (counts.length > MAX_MASK_RUNS) return undefined;
  }
  push(0, (width - px1) * height);
  counts.push(run);
  return area > 0 ? { counts, size: [height, width] } : undefined;
}
