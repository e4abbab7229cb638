/**
 * CSV of every live finding with its decision: one row per finding, RFC 4180 quoting. `mismatch` holds why
 * the finding's model was not for its image, empty when it was. An image with no finding that a reader
 * confirmed has no lesion gets one row of its own, with no finding and the decision `no-lesion`;
 * `image_decisions` lists every reader's "no lesion" on the row's image (`reviewer:no-lesion;…`). New
 * columns go last, so readers that index the older ones keep working.
 */
import { csvField } from '../core/csv.ts';
import type { ImageReview, ReviewRow } from '../review/store.ts';

export const CSV_COLUMNS = [
  'image_id', 'image_path', 'finding_id', 'source', 'model', 'run_id', 'score', 'area',
  'x0', 'y0', 'x1', 'y1', 'proposed_x0', 'proposed_y0', 'proposed_x1', 'proposed_y1', 'has_mask',
  'decision', 'reviewer', 'decided_at', 'note', 'all_decisions', 'image_flagged', 'image_note',
  'mismatch', 'image_decisions',
] as const;

export function toCsv(rows: ReviewRow[], images: ImageReview[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  const imageDecisions = new Map(images.map((i) => [i.image.id, i.decisions]));
  const decisionsOf = (imageId: number) => csvField((imageDecisions.get(imageId) ?? []).map((d) => `${d.reviewer}:${d.decision}`).join(';'));
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
        csvField(last.decision), csvField(last.reviewer), csvField(last.decided), csvField(last.note),
        '', csvField(image.flagged ? 1 : 0), csvField(image.flagNote),
        csvField(image.mismatch), decisionsOf(image.id),
      ],
    });
  }
  for (const r of rows) {
    const e = r.effective;
    const cells: string[] = [
      csvField(r.image.id), csvField(r.image.path), csvField(r.finding.id), csvField(r.finding.source), csvField(r.finding.model), csvField(r.finding.runId),
      csvField(r.finding.score), csvField(r.finding.area),
      ...e.box.map((v) => csvField(v)), ...r.finding.box.map((v) => csvField(v)), csvField(e.mask ? 1 : 0),
      csvField(e.decision), csvField(e.reviewer), csvField(e.decided), csvField(e.note),
      csvField(r.decisions.map((d) => `${d.reviewer}:${d.decision}`).join(';')), csvField(r.image.flagged ? 1 : 0), csvField(r.image.flagNote),
      csvField(r.finding.mismatch), decisionsOf(r.image.id),
    ];
    out.push({ imageId: r.image.id, cells });
  }
  // Stable: findings keep their order within an image.
  out.sort((a, b) => a.imageId - b.imageId);
  for (const line of out) lines.push(line.cells.join(','));
  return `${lines.join('\r\n')}\r\n`;
}
