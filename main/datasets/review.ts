/**
 * The one rule for what a reviewed image contributes, shared by training, evaluation and the exports:
 *  - an image nobody reviewed contributes nothing: the lesions nobody checked are not background;
 *  - a half-reviewed image (a finding on it still undecided) waits: an undecided region may be a lesion,
 *    so the image becomes a label only when every finding on it is decided (exports list it with its
 *    pending count, for loaders that decide otherwise);
 *  - confirmed findings (accepted as proposed, edited to the reviewer's box, added) are lesions: the
 *    reviewer's brush mask where one was drawn, else the box; rejected findings are not;
 *  - a fully reviewed image with no confirmed lesion (every finding rejected) is a negative.
 */
import { existsSync } from 'node:fs';
import { type Box, StudioError } from '../../preload/contract.ts';
import { rleDecode } from '../review/rle.ts';
import { type ReviewRow, type Rle, openStore } from '../review/store.ts';
import type { Dataset, Sample } from './formats.ts';

/** A lesion the review confirmed: accepted as proposed, corrected, or drawn by a reviewer. */
export function isPositive(row: ReviewRow): boolean {
  return row.effective.decision === 'accepted' || row.effective.decision === 'edited' || row.effective.decision === 'added';
}

/**
 * Images some reviewer has looked at (at least one decision on one of its findings, or flagged), each with
 * its rows and the number of its findings still undecided.
 */
export function reviewedImages(rows: ReviewRow[]): { image: ReviewRow['image']; rows: ReviewRow[]; pending: number }[] {
  const byImage = new Map<number, { image: ReviewRow['image']; rows: ReviewRow[]; pending: number; touched: boolean }>();
  for (const row of rows) {
    let entry = byImage.get(row.image.id);
    if (!entry) byImage.set(row.image.id, (entry = { image: row.image, rows: [], pending: 0, touched: row.image.flagged }));
    entry.rows.push(row);
    if (row.decisions.length > 0) entry.touched = true;
    else entry.pending++;
  }
  return [...byImage.values()].filter((e) => e.touched).map(({ image, rows: r, pending }) => ({ image, rows: r, pending }));
}

export interface ReviewedItem {
  path: string;
  imageId: number;
  width: number;
  height: number;
  /** Confirmed lesion boxes `[x0, y0, x1, y1]` in the image's pixels. */
  boxes: Box[];
  /** Aligned with `boxes`: the brush mask (COCO uncompressed RLE, [height, width]) or null for a box-only lesion. Absent when no lesion on the image has one. */
  masks?: (Rle | null)[];
  /** Findings on the image nobody has decided yet: the item is a label only when this is 0. */
  pending: number;
}

/** Every reviewed image of a store with its confirmed lesions and its count of undecided findings. */
export function reviewedDataset(storeFile: string): { items: ReviewedItem[] } {
  const store = openStore(storeFile, { mustExist: true, readonly: true });
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

/**
 * Reviewed annotations as training needs them: one entry per labelled image with its confirmed lesions (none:
 * a negative). `reviewDataset` builds it from the review store; other annotation tools can implement it too.
 */
export interface ReviewAnnotationSource {
  images(): { path: string; lesions: { box: Box; mask?: { width: number; height: number; data: Uint8Array } }[] }[];
}

export function datasetFromReview(root: string, source: ReviewAnnotationSource): Dataset {
  const samples: Sample[] = [];
  for (const im of source.images()) {
    if (!existsSync(im.path)) continue;
    const masks = im.lesions.filter((l) => l.mask);
    const sample: Sample = { id: im.path, image: im.path, boxes: im.lesions.filter((l) => !l.mask).map((l) => l.box) };
    if (masks.length) {
      sample.rasterMask = async () => {
        const { width, height } = masks[0].mask!;
        const data = new Uint8Array(width * height);
        for (const m of masks) for (let i = 0; i < data.length; i++) if (m.mask!.data[i]) data[i] = 255;
        return { width, height, data };
      };
    }
    samples.push(sample);
  }
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `the review store at ${root} has no fully reviewed raster image (an image is a label once every finding on it is decided)`, root);
  return { root, format: 'review', samples };
}

/** The review store as a dataset, by the rule above: fully reviewed images only, all-rejected ones as negatives. */
export async function reviewDataset(storeFile: string): Promise<Dataset> {
  const labelled = reviewedDataset(storeFile).items.filter((item) => item.pending === 0);
  return datasetFromReview(storeFile, {
    images: () => labelled.map((item) => ({ path: item.path, lesions: item.boxes.map((box, i) => ({ box, ...(item.masks?.[i] ? { mask: rleDecode(item.masks[i]!) } : {}) })) })),
  });
}
