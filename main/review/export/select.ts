/** Which findings and images the exports and the training dataset take from the store. */
import type { ReviewRow } from '../store.ts';

/** A lesion the review confirmed: accepted as proposed, corrected, or drawn by a reviewer. */
export function isPositive(row: ReviewRow): boolean {
  return row.effective.decision === 'accepted' || row.effective.decision === 'edited' || row.effective.decision === 'added';
}

/**
 * Images some reviewer has looked at (at least one decision on one of its findings, or flagged), each with
 * its rows. An image nobody reviewed is left out: counting it as "no lesion" would teach a model that the
 * lesions nobody checked are background.
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
