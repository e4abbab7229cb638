/**
 * Where compared models differ, image by image: from each report's per-image scores, the images every
 * model was scored on, ordered by how far apart the models are on them. Pure, so it is tested in node.
 */
import type { EvaluationReport, ImageScore } from '../../../preload/contract.ts';

export type DiffOrder = 'dice' | 'found' | 'pointed';

export interface DiffRow {
  id: string;
  /**
   * Lesions in the image as the models saw it: each counts the mask's components at its own input size
   * (specks under 10 pixels there are dropped), so models at different sizes may count differently.
   */
  lesions: { min: number; max: number };
  /** One per report, in the reports' order. */
  scores: ImageScore[];
  /** Largest minus smallest Dice over the models. */
  diceSpread: number;
  /** Largest minus smallest number of lesions found at the 1 FP/image operating point. */
  foundSpread: number;
  /** Largest minus smallest number of false positives there. */
  fpSpread: number;
  /** Whether the models disagree on whether the attention maximum lies in a lesion. */
  pointingDiffers: boolean;
}

const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

/**
 * The rows, most different first. `dice`: by Dice spread. `found`: lesions found differently first (then
 * false positives, then Dice). `pointed`: pointing outcomes that disagree first (then Dice). Null when the
 * reports cannot be compared image by image: fewer than two, or one without per-image scores.
 */
export function differences(reports: Pick<EvaluationReport, 'model' | 'perImage'>[], order: DiffOrder): DiffRow[] | null {
  if (reports.length < 2 || reports.some((r) => !r.perImage)) return null;
  const byId = reports.map((r) => new Map((r.perImage as ImageScore[]).map((s) => [s.id, s])));
  const rows: DiffRow[] = [];
  // In the first report's order (the scoring order), keeping only images every model was scored on.
  for (const first of reports[0].perImage as ImageScore[]) {
    const scores = byId.map((m) => m.get(first.id));
    if (scores.some((s) => !s)) continue;
    const all = scores as ImageScore[];
    rows.push({
      id: first.id,
      lesions: { min: Math.min(...all.map((s) => s.lesions)), max: Math.max(...all.map((s) => s.lesions)) },
      scores: all,
      diceSpread: spread(all.map((s) => s.dice)),
      foundSpread: spread(all.map((s) => s.found)),
      fpSpread: spread(all.map((s) => s.falsePositives)),
      // Whether each points at a lesion at all: a flat maximum can touch two, which is not a disagreement.
      pointingDiffers: new Set(all.map((s) => s.pointed > 0)).size > 1,
    });
  }
  const key: Record<DiffOrder, (r: DiffRow) => number[]> = {
    dice: (r) => [r.diceSpread],
    found: (r) => [r.foundSpread, r.fpSpread, r.diceSpread],
    pointed: (r) => [r.pointingDiffers ? 1 : 0, r.diceSpread],
  };
  const k = key[order];
  return rows
    .map((r, i) => ({ r, i, k: k(r) }))
    .sort((a, b) => {
      for (let j = 0; j < a.k.length; j++) if (a.k[j] !== b.k[j]) return b.k[j] - a.k[j];
      return a.i - b.i;
    })
    .map((x) => x.r);
}

/** Whether a row differs at all under an order's criterion (the list says how many do). */
export function differs(row: DiffRow, order: DiffOrder, minDice = 0.1): boolean {
  if (order === 'dice') return row.diceSpread >= minDice;
  if (order === 'found') return row.foundSpread > 0 || row.fpSpread > 0;
  return row.pointingDiffers;
}
