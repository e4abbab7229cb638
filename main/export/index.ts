/** `studio export`: the store's review as COCO JSON, CSV, or one DICOM SR per DICOM source image. */
import { writeAtomic } from '../fs/write.ts';
import { ensureDir } from '../fs/dirs.ts';
import { basename, extname, join } from 'node:path';
import dcmjs from 'dcmjs';
import { StudioError } from '../../preload/contract.ts';
import { openStore } from '../review/store.ts';
import { toCoco } from './coco.ts';
import { toCsv } from './csv.ts';
import { reviewedImages } from '../datasets/review.ts';
import { buildSr, sourceInfo, writeSr } from './sr.ts';

export const FORMATS = ['coco', 'csv', 'dicom-sr'] as const;
export type ExportFormat = (typeof FORMATS)[number];

export interface ExportResult {
  files: string[];
  images: number;
  findings: number;
  /** Images left out, each with why (for dicom-sr: not DICOM, or no lesion confirmed on it: an SR reports lesions). */
  skipped: { path: string; reason: string }[];
  /**
   * Of `findings`, those a model proposed on an image it was not for (run anyway): each is in the export,
   * marked with why (CSV `mismatch` column, COCO `attributes.mismatch`, SR measurement-group Comment).
   */
  mismatched: number;
}

export function exportStore(storeFile: string, format: ExportFormat, outDir: string, version = '0'): ExportResult {
  if (!FORMATS.includes(format)) throw new StudioError('INVALID_PAYLOAD', `unknown export format '${format}': use ${FORMATS.join(', ')}`, 'format');
  const store = openStore(storeFile, { mustExist: true });
  let review;
  try {
    review = store.review();
  } finally {
    store.close();
  }
  const { rows, images } = review;
  ensureDir(outDir);
  if (format === 'coco') {
    const coco = toCoco(rows, images, version);
    const file = join(outDir, 'annotations.coco.json');
    writeAtomic(file, JSON.stringify(coco));
    return { files: [file], images: coco.images.length, findings: coco.annotations.length, skipped: [], mismatched: coco.annotations.filter((a) => a.attributes.mismatch).length };
  }
  if (format === 'csv') {
    const file = join(outDir, 'review.csv');
    writeAtomic(file, toCsv(rows, images));
    const listed = new Set([...rows.map((r) => r.image.id), ...images.filter((i) => i.decisions.length > 0).map((i) => i.image.id)]);
    return { files: [file], images: listed.size, findings: rows.length, skipped: [], mismatched: rows.filter((r) => r.finding.mismatch).length };
  }
  const result: ExportResult = { files: [], images: 0, findings: 0, skipped: [], mismatched: 0 };
  const seriesUid = dcmjs.data.DicomMetaDictionary.uid();
  for (const { image, rows: imageRows, noLesion } of reviewedImages(rows, images)) {
    const source = sourceInfo(image);
    if (!source) {
      result.skipped.push({ path: image.path, reason: 'not a DICOM source (no readable DICOM header and no UIDs in the store)' });
      continue;
    }
    const sr = buildSr(image, imageRows, source, { seriesUid, instanceNumber: result.files.length + 1, version });
    if (!sr) {
      // As for an image whose every finding was rejected: a TID 1500 report of no measurement says nothing.
      result.skipped.push({ path: image.path, reason: noLesion.length > 0 ? 'no lesion (confirmed by a reader)' : 'no accepted, edited or added finding' });
      continue;
    }
    const stem = basename(image.path, extname(image.path)).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
    const file = join(outDir, `${stem}.${image.id}.sr.dcm`);
    writeAtomic(file, writeSr(sr.dataset));
    result.files.push(file);
    result.images++;
    result.findings += sr.findings;
    result.mismatched += sr.mismatched;
  }
  return result;
}
