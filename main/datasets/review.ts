/**
 * The one rule for what a reviewed image contributes, shared by training, evaluation and the exports:
 *  - an image nobody reviewed contributes nothing: the lesions nobody checked are not background. A flag
 *    alone reviews nothing (it asks for a second look);
 *  - an image with no finding is reviewed only when a reader confirmed it has no lesion (a "no lesion"
 *    decision of its own, the Review panel's N key), never by default: a lesion the model missed must have
 *    been put in front of a reader before the image trains as background;
 *  - a half-reviewed image (a finding on it still undecided) waits, whole: it becomes a label only when every
 *    finding on it is decided. This is our answer to issue 24's "waits or contributes with its undecided
 *    regions left out of the loss": an undecided region may be a lesion, and so may the unmarked rest of a
 *    frame a reader has not finished, so nothing of it is trusted yet (exports list it with its pending
 *    count, for loaders that decide otherwise);
 *  - confirmed findings (accepted as proposed, edited to the reviewer's box, added) are lesions, shaped as
 *    the store's `lesionShape` decides (main/review/store.ts): the reader's own outline where they painted
 *    one (adding, accepting or editing); else, for a model finding, the model's outline of it (the lesion
 *    map at its Dice-calibrated threshold, recorded by the batch: main/review/lesion-mask.ts), clipped to an
 *    edited box; else the box. Rejected findings are not lesions;
 *  - a fully reviewed image with no confirmed lesion (every finding rejected, or a reader's "no lesion") is
 *    a negative; a lesion confirmed on it after a "no lesion" (added later, or accepted by the latest
 *    decision) makes it a positive.
 */
import { existsSync } from 'node:fs';
import { type Box, StudioError } from '../../preload/contract.ts';
import { reviewedBy } from '../../preload/review-status.ts';
import { rleDecode } from '../review/rle.ts';
import { type ImageDecision, type ImageReview, type ReviewRow, type Rle, openStore } from '../review/store.ts';
import type { Dataset, Sample } from './formats.ts';
import { sequenceGroups } from './groups.ts';

/** A lesion the review confirmed: accepted as proposed, corrected, or drawn by a reviewer. */
export function isPositive(row: ReviewRow): boolean {
  return row.effective.decision === 'accepted' || row.effective.decision === 'edited' || row.effective.decision === 'added';
}

/** One image some reader has reviewed, in whole or in part. */
export interface ReviewedImage {
  image: ReviewRow['image'];
  /** Its live findings, each with every reader's decision. */
  rows: ReviewRow[];
  /** Findings on it nobody has decided yet: it is a label only when this is 0. */
  pending: number;
  /** Readers' current "no lesion" decisions on the image, oldest first. */
  noLesion: ImageDecision[];
  /** What it is as a label: a lesion image, a negative, or null while it waits (`pending` > 0). */
  label: 'positive' | 'negative' | null;
}

/**
 * Images some reader has reviewed (a decision on one of its findings, or a "no lesion" on it), each with its
 * rows, its count of undecided findings and what it is as a label (null: it waits). `images` is every image
 * of the store (`ReviewStore.imageReviews`): an image with no finding is in no row.
 */
export function reviewedImages(rows: ReviewRow[], images: ImageReview[]): ReviewedImage[] {
  const byImage = new Map<number, ReviewedImage>();
  const entry = (image: ReviewRow['image']): ReviewedImage => {
    let e = byImage.get(image.id);
    if (!e) byImage.set(image.id, (e = { image, rows: [], pending: 0, noLesion: [], label: null }));
    return e;
  };
  for (const { image, decisions } of images) entry(image).noLesion = decisions.filter((d) => d.decision === 'no-lesion');
  for (const row of rows) {
    const e = entry(row.image);
    e.rows.push(row);
    if (row.decisions.length === 0) e.pending++;
  }
  const out: ReviewedImage[] = [];
  for (const e of byImage.values()) {
    const decided = e.rows.length - e.pending;
    // Touched by a reader (a decision, or a "no lesion"): reviewed, or half-reviewed while findings wait.
    if (decided === 0 && e.noLesion.length === 0) continue;
    if (reviewedBy(e.pending, decided, e.noLesion.length > 0)) e.label = e.rows.some(isPositive) ? 'positive' : 'negative';
    out.push(e);
  }
  return out.sort((a, b) => a.image.id - b.image.id);
}

export interface ReviewedItem {
  path: string;
  imageId: number;
  width: number;
  height: number;
  /** Confirmed lesion boxes `[x0, y0, x1, y1]` in the image's pixels. */
  boxes: Box[];
  /** Aligned with `boxes`: the lesion's mask (COCO uncompressed RLE, [height, width]) or null for a box-only lesion. Absent when no lesion on the image has one. */
  masks?: (Rle | null)[];
  /** Findings on the image nobody has decided yet: the item is a label only when this is 0. */
  pending: number;
  /** Readers' current "no lesion" decisions on the image (empty when none), oldest first. */
  noLesion: ImageDecision[];
  /** A lesion image, a negative, or null while it waits (see `ReviewedImage.label`). */
  label: 'positive' | 'negative' | null;
  /** The DICOM study and series the image belongs to, when it has them (what keeps a sequence whole in a split). */
  uids: { study?: string; series?: string };
}

/** One read of a review store: what its readers finished, what still waits, and who decided. */
export interface ReviewRead {
  items: ReviewedItem[];
  waiting: { unreviewed: number; halfReviewed: number };
  reviewers: string[];
}

/**
 * Every reviewed image of a store with its confirmed lesions, its count of undecided findings and its label,
 * every reader who decided anything in it, and how many images wait for a reader: `unreviewed` (nothing decided on them, including images with no
 * finding nobody confirmed) and `halfReviewed` (some finding on them still undecided).
 */
export function reviewedDataset(storeFile: string): ReviewRead {
  const store = openStore(storeFile, { mustExist: true, readonly: true });
  let review;
  try {
    review = store.review();
  } finally {
    store.close();
  }
  const reviewed = reviewedImages(review.rows, review.images);
  const items = reviewed.map(({ image, rows: imageRows, pending, noLesion, label }) => {
    const positives = imageRows.filter(isPositive);
    const item: ReviewedItem = { path: image.path, imageId: image.id, width: image.width, height: image.height, boxes: positives.map((r) => [...r.effective.box] as Box), pending, noLesion, label, uids: { study: image.uids.study, series: image.uids.series } };
    if (positives.some((r) => r.effective.mask)) item.masks = positives.map((r) => r.effective.mask ?? null);
    return item;
  });
  const waiting = { unreviewed: review.images.length - reviewed.length, halfReviewed: reviewed.filter((r) => r.label === null).length };
  // Readers of findings, and readers whose only word on an image was "no lesion".
  const reviewers = [...new Set([...review.rows.flatMap((r) => r.decisions.map((d) => d.reviewer)), ...review.images.flatMap((i) => i.decisions.map((d) => d.reviewer))])].sort();
  return { items, waiting, reviewers };
}

/**
 * Reviewed annotations as training needs them: one entry per labelled image with its confirmed lesions (none:
 * a negative). `reviewDataset` builds it from the review store; other annotation tools can implement it too.
 */
export interface ReviewAnnotationSource {
  images(): { path: string; lesions: { box: Box; mask?: { width: number; height: number; data: Uint8Array } }[]; uids?: { study?: string; series?: string } }[];
}

/**
 * Frames of one sequence (a DICOM series, a video's folder: datasets/groups.ts) share a group, so every split
 * of a site's reviewed images keeps them on one side.
 */

export function datasetFromReview(root: string, source: ReviewAnnotationSource): Dataset {
  const samples: Sample[] = [];
  const images = source.images();
  const { groups } = sequenceGroups(images.map((im) => ({ id: im.path, path: im.path, ...(im.uids ? { uids: im.uids } : {}) })));
  for (const im of images) {
    if (!existsSync(im.path)) continue;
    const masks = im.lesions.filter((l) => l.mask);
    const sample: Sample = { id: im.path, image: im.path, boxes: im.lesions.filter((l) => !l.mask).map((l) => l.box) };
    const group = groups.get(im.path);
    if (group) sample.group = group;
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
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `the review store at ${root} has no fully reviewed image (an image is a label once every finding on it is decided, or a reader confirmed it has no lesion)`, root);
  return { root, format: 'review', samples };
}

/**
 * The review store as a dataset, by the rule above: fully reviewed images only, those without a confirmed
 * lesion as negatives. A caller that also counts what waits, or digests the labels, passes its own `read`,
 * so the dataset and those figures come from one reading (a reader may decide between two).
 */
export async function reviewDataset(storeFile: string, read: ReviewRead = reviewedDataset(storeFile)): Promise<Dataset> {
  const labelled = read.items.filter((item) => item.label !== null);
  return datasetFromReview(storeFile, {
    images: () =>
      labelled.map((item) => ({
        path: item.path,
        uids: item.uids,
        lesions: item.boxes.map((box, i) => {
          // Only a mask drawn on this image's grid: one of another size (a store edited by hand) would be
          // decoded at its own, a 40000² mask on a 190×335 frame took 1.6 GB. Its box still marks the lesion.
          const mask = item.masks?.[i];
          return { box, ...(mask && mask.size[0] === item.height && mask.size[1] === item.width ? { mask: rleDecode(mask) } : {}) };
        }),
      })),
  });
}
