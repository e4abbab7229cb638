/**
 * Which image to review next (issue 24): the one rule for how informative a reader's review of an image would
 * be to the next adaptation, and the worklist order it gives (`review.worklist` with `order: 'informative'`).
 *
 * Uncertainty sampling, as MONAI Label's active learning does: a review teaches most where the model was
 * unsure. The model's findings are cut at its operating threshold, so "unsure" is "close to that threshold":
 * a lesion map whose peak sits just under it may hide a lesion the model missed, and a finding just over it
 * may be false. A confident finding (score near 1) or a confidently empty map (peak near 0) teaches little.
 *
 * Closeness is linear on each side of the threshold, scaled by the room on that side, so 1 means "at the
 * threshold" and 0 "as far from it as a probability can be", whatever the threshold: with threshold 0.8, a
 * peak of 0.4 and a finding of 0.9 are both 0.5. An image's informativeness is its most uncertain signal
 * (max, not mean: one borderline lesion is worth a review however many clear ones sit beside it), over every
 * run recorded on it. Mirrored-view disagreement is not part of it: the detector averages its views inside
 * the inference worker and returns only the average.
 */

/** What one model run recorded on one image (main/review/store.ts run_images, and its findings' scores). */
export interface RunSignals {
  /** The threshold the run cut findings at; without it (runs recorded before schema 4) nothing is scored. */
  threshold?: number | null;
  /** The lesion map's maximum over the image (the image-level score); absent on old runs. */
  peak?: number | null;
  /** The scores of the run's findings on the image. */
  scores: readonly number[];
}

/** How close `score` is to `threshold`, in [0, 1]: 1 at it, falling linearly to 0 at 0 (below) and at 1 (above). */
export function closeness(score: number, threshold: number): number {
  const s = Math.min(1, Math.max(0, score));
  const t = Math.min(1, Math.max(0, threshold));
  const c = s < t ? s / t : t >= 1 ? 1 : (1 - s) / (1 - t);
  return Math.min(1, Math.max(0, c));
}

/** One run's informativeness on an image: its most uncertain signal; undefined when it recorded none it can be scored by. */
export function runInformativeness(run: RunSignals): number | undefined {
  if (run.threshold == null || !Number.isFinite(run.threshold)) return undefined;
  const values = [...run.scores, ...(run.peak == null ? [] : [run.peak])].filter(Number.isFinite);
  if (!values.length) return undefined;
  return Math.max(...values.map((v) => closeness(v, run.threshold as number)));
}

/** An image's informativeness over the runs recorded on it (the most uncertain run); undefined when none can be scored. */
export function informativeness(runs: readonly RunSignals[]): number | undefined {
  let best: number | undefined;
  for (const r of runs) {
    const v = runInformativeness(r);
    if (v !== undefined && (best === undefined || v > best)) best = v;
  }
  return best;
}

/**
 * The informative order of a worklist given in file order: images still to review first, most informative
 * first (unscored ones after the scored, ties and unscored in file order), then the reviewed ones in file
 * order. Stable; returns a new array.
 */
export function informativeOrder<T extends { informativeness?: number }>(items: readonly T[], reviewed: (item: T) => boolean): T[] {
  const ranked = items.map((item, index) => ({ item, index, done: reviewed(item), score: item.informativeness ?? -1 }));
  ranked.sort((a, b) => Number(a.done) - Number(b.done) || (a.done ? 0 : b.score - a.score) || a.index - b.index);
  return ranked.map((r) => r.item);
}
