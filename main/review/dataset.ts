/**
 * The review as a training dataset for `studio train --format review`: one item per reviewed image with
 * its confirmed lesions (accepted as proposed, edited to the reviewer's box, or added), rejected findings
 * left out. Images nobody reviewed are left out too (see export/select.ts).
 */
import type { Box } from '../../preload/contract.ts';
import { isPositive, reviewedImages } from './export/select.ts';
import { type Rle, openStore } from './store.ts';

export interface ReviewedItem {
  path: string;
  imageId: number;
  width: number;
  height: number;
  /** Confirmed lesion boxes `[x0, y0, x1, y1]` in the image's pixels. */
  boxes: Box[];
  /** Aligned with `boxes`: the brush mask (COCO uncompressed RLE, [height, width]) or null for a box-only lesion. Absent when no lesion on the image has one. */
  masks?: (Rle | null)[];
  /** Findings on the image nobody has decided yet: a loader that wants complete labels skips items with pending > 0. */
  pending: number;
}

export function reviewedDataset(storeFile: string): { items: ReviewedItem[] } {
  const store = openStore(storeFile, { mustExist: true });
  let rows;
  try {
    rows = store.reviewRows();
  } finally {
    store.close();
  }
  const items = reviewedImages(rows).map(({ image, rows: imageRows, pending }) => {
    const positives = imageRows.filter(isPositive);
    const item: ReviewedItem = { path: image.path, imageId: image.id, width: image.width, height: image.height, boxes: positives.map((r) => [...r.effective.box] as Box), pending };
    if (positives.some((r) => r.effective.mask)) item.masks = positives.map((r) => r.effective.mask ?? null);
    return item;
  });
  return { items };
}
