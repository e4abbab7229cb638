/**
 * A mask against a box, in COCO uncompressed RLE (preload/mask-rle.ts), without decoding to an image-sized
 * buffer. Pure, so the store (which checks that a reader's outline overlaps the finding it is for, and clips
 * a finding's own shape to a corrected box) and the Review panel (which sends a stroke over the selected
 * finding as that finding's outline, and one elsewhere as a new lesion) decide by the same pixels.
 *
 * A pixel lies in a box when its centre does: (x + 0.5, y + 0.5) in [x0, x1) × [y0, y1). An integer box
 * (a mask's own bounding box, `rleBox`) holds exactly its pixels; a detector's fractional box takes the
 * pixels it covers more than half of along each axis.
 */
import { type Rle, rleArea } from './mask-rle.ts';

type Box = readonly [number, number, number, number];

/** The mask's pixels that lie in `box` (see above), as RLE of the same size. */
export function rleClip(rle: Rle, box: Box): Rle {
  const [height, width] = rle.size;
  const cells = (v: number, n: number) => Math.min(n, Math.max(0, Math.ceil(v - 0.5)));
  const cx0 = cells(box[0], width), cx1 = cells(box[2], width);
  const ry0 = cells(box[1], height), ry1 = cells(box[3], height);
  const counts: number[] = [];
  // Where the output's last run of ones ended (runs come in increasing order, never overlapping).
  let end = 0;
  const ones = (start: number, stop: number) => {
    if (counts.length && start === end) counts[counts.length - 1] += stop - start;
    else counts.push(start - end, stop - start);
    end = stop;
  };
  let at = 0;
  for (let r = 0; r < rle.counts.length; r++) {
    const c = rle.counts[r];
    if (r % 2 === 1 && c > 0) {
      const stop = at + c;
      // A run of ones may span columns: walk it a column at a time, skipping the columns left of the box.
      let s = Math.max(at, cx0 * height);
      while (s < stop) {
        const col = Math.floor(s / height);
        if (col >= cx1) break;
        const colEnd = Math.min(stop, (col + 1) * height);
        const a = Math.max(s - col * height, ry0), b = Math.min(colEnd - col * height, ry1);
        if (b > a) ones(col * height + a, col * height + b);
        s = colEnd;
      }
    }
    at += c;
  }
  if (end < height * width || counts.length === 0) counts.push(height * width - end);
  return { counts, size: [height, width] };
}

/** How many of the mask's pixels lie in `box`: 0 when the mask does not overlap it. */
export function rleAreaIn(rle: Rle, box: Box): number {
  return rleArea(rleClip(rle, box));
}
