/**
 * COCO detection JSON of the reviewed findings: confirmed lesions only (accepted, edited, added), boxes as
 * [x, y, width, height], masks (the shape the finding trains as, main/review/store.ts `lesionShape`: a reader's
 * outline drawn when adding, accepting or editing, else the model finding's own lesion-map component, inside
 * an edited box) as uncompressed RLE segmentation and box-only findings as the box's polygon (so mask-based loaders work on
 * every annotation). Review facts ride along as `attributes`. The images are the reviewed ones by the rule
 * of datasets/review.ts: an image a reader confirmed has no lesion is listed with no annotation and its
 * readers' decisions in `no_lesion`; an image still waiting says so in `pending_findings`.
 * A finding from a run whose model was not for its image carries `attributes.mismatch` (why), and the image
 * entry `mismatch` (its first such run's text): a loader that trains or evaluates on the file can leave them out.
 */
import { basename } from 'node:path';
import type { ImageReview, ReviewRow } from '../review/store.ts';
import { isPositive, reviewedImages } from '../datasets/review.ts';

export interface CocoDataset {
  info: { description: string; version: string; date_created: string };
  licenses: never[];
  images: { id: number; file_name: string; width: number; height: number; path: string; content_hash: string; flagged: boolean; pending_findings: number; dicom?: { study?: string; series?: string; sop?: string }; mismatch?: string; no_lesion?: { reviewer: string; decided: string; note?: string }[] }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    area: number;
    iscrowd: 0;
    segmentation: { counts: number[]; size: [number, number] } | number[][];
    score?: number;
    attributes: { finding_id: number; source: 'model' | 'reviewer'; model?: string; decision: string; reviewer?: string; note?: string; decided?: string; decisions: { reviewer: string; decision: string }[]; mismatch?: string };
  }[];
  categories: { id: number; name: string; supercategory: string }[];
}

export function toCoco(rows: ReviewRow[], images: ImageReview[], version: string): CocoDataset {
  const out: CocoDataset = {
    info: { description: 'Attention Studio reviewed findings', version, date_created: new Date().toISOString() },
    licenses: [],
    images: [],
    annotations: [],
    categories: [{ id: 1, name: 'lesion', supercategory: 'lesion' }],
  };
  for (const { image, rows: imageRows, pending, noLesion } of reviewedImages(rows, images)) {
    const entry: CocoDataset['images'][number] = { id: image.id, file_name: basename(image.path), width: image.width, height: image.height, path: image.path, content_hash: image.contentHash, flagged: image.flagged, pending_findings: pending };
    if (image.uids.sop) entry.dicom = { study: image.uids.study, series: image.uids.series, sop: image.uids.sop };
    if (image.mismatch) entry.mismatch = image.mismatch;
    if (noLesion.length) entry.no_lesion = noLesion.map((d) => ({ reviewer: d.reviewer, decided: d.decided, ...(d.note ? { note: d.note } : {}) }));
    out.images.push(entry);
    for (const row of imageRows.filter(isPositive)) {
      const [x0, y0, x1, y1] = row.effective.box;
      const w = x1 - x0, h = y1 - y0;
      const mask = row.effective.mask;
      const ann: CocoDataset['annotations'][number] = {
        id: row.finding.id,
        image_id: image.id,
        category_id: 1,
        bbox: [x0, y0, w, h],
        area: mask ? mask.counts.reduce((a, c, i) => (i % 2 ? a + c : a), 0) : w * h,
        iscrowd: 0,
        segmentation: mask ? { counts: mask.counts, size: mask.size } : [[x0, y0, x1, y0, x1, y1, x0, y1]],
        attributes: { finding_id: row.finding.id, source: row.finding.source, decision: row.effective.decision, decisions: row.decisions.map((d) => ({ reviewer: d.reviewer, decision: d.decision })) },
      };
      if (row.finding.score !== undefined) ann.score = row.finding.score;
      if (row.finding.model) ann.attributes.model = row.finding.model;
      if (row.effective.reviewer) ann.attributes.reviewer = row.effective.reviewer;
      if (row.effective.note) ann.attributes.note = row.effective.note;
      if (row.effective.decided) ann.attributes.decided = row.effective.decided;
      if (row.finding.mismatch) ann.attributes.mismatch = row.finding.mismatch;
      out.annotations.push(ann);
    }
  }
  return out;
}
