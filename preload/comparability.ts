/**
 * Whether compared evaluation reports may be ranked against each other: one rule for the Compare panel
 * and `studio compare`. Two reports rank only when they scored the same images (each model's own split
 * decides them, so models trained on other splits meet other images) and every model was scored on images
 * held out from its own training (a split recomputed from a seed, for a model with no split stored for
 * the data, is not: it was trained on other data, or may have trained on some of those images).
 */
import { SPLIT_SOURCES } from './contract.ts';

export interface Comparability {
  sameImages: boolean;
  /** Models scored on images their seed drew rather than their stored split. */
  notHeldOut: string[];
  rankable: boolean;
}

/** Whether a report scored images held out from its model's training: its stored split (older reports do not say). */
export function isHeldOut(report: { splitSource?: string }): boolean {
  return report.splitSource === undefined || report.splitSource === SPLIT_SOURCES.stored;
}

export function comparability(reports: { model: string; images: number; imageSet?: string; splitSource?: string }[]): Comparability {
  const sameImages = new Set(reports.map((r) => r.imageSet ?? `${r.images} images`)).size <= 1;
  const notHeldOut = reports.filter((r) => !isHeldOut(r)).map((r) => r.model);
  return { sameImages, notHeldOut, rankable: sameImages && notHeldOut.length === 0 };
}

/**
 * A column's best value, to mark: none (NaN) unless the reports rank, two or more values are known and
 * they differ (a tie is no win).
 */
export function bestValue(values: number[], higher: boolean, rankable: boolean): number {
  const known = values.filter(Number.isFinite);
  if (!rankable || known.length < 2 || known.every((v) => v === known[0])) return NaN;
  return higher ? Math.max(...known) : Math.min(...known);
}
