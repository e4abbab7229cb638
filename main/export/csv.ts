/**
 * CSV of every live finding with its decision: one row per finding, RFC 4180 quoting. `mismatch` holds why
 * the finding's model was not for its image, empty when it was. An image with no finding that a reader
 * confirmed has no lesion gets one row of its own, with no finding and the decision `no-lesion`;
 * `image_decisions` lists every reader's "no lesion" on the row's image (`reviewer:no-lesion;…`). New
 * columns go last, so readers that index the older ones keep working.
 */
import type { ImageReview, ReviewRow } from '../review/store.ts';

export const CSV_COLUMNS = [
  'image_id', 'image_path', 'finding_id', 'source', 'model', 'run_id', 'score', 'area',
  'x0', 'y0', 'x1', 'y1', 'proposed_x0', 'proposed_y0', 'proposed_x1', 'proposed_y1', 'has_mask',
  'decision', 'reviewer', 'decided_at', 'note', 'all_decisions', 'image_flagged', 'image_note',
  'mismatch', 'image_decisions',
] as const;

/**
 * Quotes a field when it holds a comma, quote, CR or LF, or edge spaces. Free text that a spreadsheet would
 * run as a formula (starting = + - @ or tab) gets a leading apostrophe, since notes come from people.
 */
export function csvField(value: unknown, text = false): string {
  if (value === undefined || value === null) return '';
  let s = String(value);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: ReviewRow[], images: ImageReview[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  const imageDecisions = new Map(images.map((i) => [i.image.id, i.decisions]));
  const decisionsOf = (imageId: number) => csvField((imageDecisions.get(imageId) ?? []).map((d) => `${d.reviewer}:${d.decision}`).join(';'), true);
  const withFindings = new Set(rows.map((r) => r.image.id));
  // One row per confirmed image with no finding, in image order among the others.
  const confirmed = images.filter((i) => i.decisions.length > 0 && !withFindings.has(i.image.id));
  type Line = { imageId: number; cells: string[] };
  const out: Line[] = [];
  for (const { image, decisions } of confirmed) {
    const last = decisions[decisions.length - 1];
    out.push({
      imageId: image.id,
      cells: [
        csvField(image.id), csvField(image.path), '', '', '', '', '', '',
        '', '', '', '', '', '', '', '', '',
        csvField(last.decision), csvField(last.reviewer, true), csvField(last.decided), csvField(last.note, true),
        '', csvField(image.flagged ? 1 : 0), csvField(image.flagNote, true),
        csvField(image.mismatch, true), decisionsOf(image.id),
      ],
    });
  }
  for (const r of rows) {
    const e = r.effective;
    const cells: string[] = [
      csvField(r.image.id), csvField(r.image.path), csvField(r.finding.id), csvField(r.finding.source), csvField(r.finding.model), csvField(r.finding.runId),
      csvField(r.finding.score), csvField(r.finding.area),
      ...e.box.map((v) => csvField(v)), ...r.finding.box.map((v) => csvField(v)), csvField(e.mask ? 1 : 0),
      csvField(e.decision), csvField(e.reviewer, true), csvField(e.decided), csvField(e.note, true),
      csvField(r.decisions.map((d) => `${d.reviewer}:${d.decision}`).join(';'), true), csvField(r.image.flagged ? 1 : 0), csvField(r.image.flagNote, true),
      csvField(r.finding.mismatch, true), decisionsOf(r.image.id),
    ];
    out.push({ imageId: r.image.id, cells });
  }
  // Stable: findings keep their order within an image.
  out.sort((a, b) => a.imageId - b.imageId);
  for (const line of out) lines.push(line.cells.join(','));
  return `${lines.join('\r\n')}\r\n`;
}
