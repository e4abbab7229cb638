/**
 * The one quantile rule of the studio's figures: appearance thresholds, evaluation's appearance summary and
 * latency percentiles, and the benchmarks' percentiles all read it, so a "p95" means the same everywhere.
 */

/** The q quantile of ascending `sorted` by nearest rank (the ⌈q·n⌉-th value); NaN for an empty list. */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
