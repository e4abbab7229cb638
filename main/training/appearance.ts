/**
 * Fit and calibrate a model's appearance score (main/detector/appearance.ts) on its own split: the
 * statistics on (at most APPEARANCE_CALIBRATION.maxFitImages of) its training images, the threshold on its
 * validation images, which the fit never saw. Training does this for every model it makes;
 * `studio appearance` does it for a model trained before the score existed.
 */
import { readCard, writeCard } from '../detector/io.ts';
import { useBackend } from '../detector/kernels/backend.ts';
import { TfjsDetector } from '../detector/tfjs-detector.ts';
import { OnnxDetector } from '../detector/runtime/onnx-detector.ts';
import { loadOrt } from '../detector/runtime/ort.ts';
import { OnnxExportError } from '../detector/runtime/cache.ts';
import { coreCount } from '../detector/engine.ts';
import { splitFor } from '../evaluation/evaluate.ts';
import { resolveProjectPath } from '../settings.ts';
import { APPEARANCE_FILE, appearanceScore, fitAppearance, meanOfViews, roundScore as round, writeAppearance, type ViewStats } from '../detector/appearance.ts';
import { quantile } from '../core/stats.ts';
import { FLIP_SETS, passes, type FlipSet } from '../detector/flips.ts';
import { predictAppearance, type DetectorBackend } from '../detector/pipeline.ts';
import { openDataset, rng, SampleCache, shuffle, type DatasetFormat } from '../datasets/index.ts';
import { SPLIT_SOURCES, StudioError, type AppearanceCalibration } from '../../preload/contract.ts';

/**
 * The calibration rule. The threshold is the 0.99 quantile of held-out scores times 1.25: the quantile
 * keeps its own test images quiet (measured: docs/experiments.md), the margin keeps its kind of image from
 * other devices and hospitals, which score somewhat higher than its own, from tripping it.
 */
export const APPEARANCE_CALIBRATION = { quantile: 0.99, margin: 1.25, maxFitImages: 1000, minFitImages: 20, minCalibrationImages: 10 } as const;

/** Whether a split has enough images for `fitModelAppearance` (a run too small for one leaves its model without the score). */
export function canFitAppearance(split: { train: readonly string[]; val: readonly string[] }): boolean {
  return split.train.length >= APPEARANCE_CALIBRATION.minFitImages && split.val.length >= APPEARANCE_CALIBRATION.minCalibrationImages;
}

/**
 * Fit on the `train` images, calibrate on the `val` ones (ids of the model's own split, decoded by `cache` at
 * its input size), write appearance.json into `dir` and the calibration into its card. `backend` is the
 * network as inference runs it. Each flip set gets its own statistics and threshold.
 */
export async function fitModelAppearance(
  dir: string,
  backend: DetectorBackend,
  cache: SampleCache,
  split: { train: readonly string[]; val: readonly string[] },
  options: { seed?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<AppearanceCalibration> {
  const rule = APPEARANCE_CALIBRATION;
  if (!canFitAppearance(split)) {
    throw new StudioError('INVALID_PAYLOAD', `the appearance score needs at least ${rule.minFitImages} training and ${rule.minCalibrationImages} validation images (got ${split.train.length} and ${split.val.length})`);
  }
  const fitIds = split.train.length > rule.maxFitImages ? shuffle([...split.train], rng(options.seed ?? 42)).slice(0, rule.maxFitImages) : [...split.train];
  const total = fitIds.length + split.val.length;
  const fitOn = await Promise.all(fitIds.map((id) => cache.get(id)));
  // One pass of all four views per image: a flip set's features are the mean of its first views (flips.ts
  // unmirroredViews), so none, h and hv are each fitted on features made as detection makes them.
  const fit = await predictAppearance(backend, fitOn, { flips: 'hv', onProgress: (n) => options.onProgress?.(n, total) });
  if (!fit.layers.length) throw new StudioError('INVALID_PAYLOAD', `${dir}: the network returns no features to score appearance with`);
  const heldOut = await Promise.all(split.val.map((id) => cache.get(id)));
  const held = await predictAppearance(backend, heldOut, { flips: 'hv', onProgress: (n) => options.onProgress?.(fitOn.length + n, total) });
  const stats: Partial<Record<FlipSet, ViewStats>> = {};
  const byFlips: AppearanceCalibration['byFlips'] = {};
  for (const flips of FLIP_SETS) {
    const n = passes(flips);
    const fitted = fitAppearance(
      fit.views.map((v) => meanOfViews(v, n)),
      fit.layers.map((l) => l.channels),
    );
    const scores = held.views.map((v) => appearanceScore(fitted, meanOfViews(v, n))).sort((a, b) => a - b);
    const at = (q: number) => quantile(scores, q);
    stats[flips] = fitted;
    byFlips[flips] = { threshold: round(at(rule.quantile) * rule.margin), shrinkage: round(fitted.shrinkage), heldOut: { median: round(at(0.5)), atQuantile: round(at(rule.quantile)) } };
  }
  const fittedAt = new Date().toISOString();
  const calibration: AppearanceCalibration = {
    file: APPEARANCE_FILE,
    layers: fit.layers.map((l) => l.name),
    features: fit.layers.reduce((n, l) => n + l.channels, 0),
    fitImages: fitOn.length,
    calibrationImages: held.views.length,
    quantile: rule.quantile,
    margin: rule.margin,
    byFlips,
    fittedAt,
  };
  // Two files, two writes: between them a reader finds the stamps apart and says so (readAppearance),
  // rather than scoring with one fit's statistics against the other's thresholds.
  writeAppearance(dir, fit.layers, stats, fittedAt);
  writeCard(dir, { ...readCard(dir), appearance: calibration });
  return calibration;
}

/**
 * Fit the appearance score of a model trained before it existed (`studio appearance`): on its card's
 * dataset (or `data`) and its stored split, run as inference runs it (onnxruntime where it loads, else
 * TF.js).
 */
export async function refitAppearance(dir: string, options: { data?: string; format?: DatasetFormat; negatives?: readonly string[]; onProgress?: (done: number, total: number) => void } = {}): Promise<AppearanceCalibration> {
  await useBackend();
  const card = readCard(dir);
  const data = options.data ?? (card.data?.path ? resolveProjectPath(card.data.path) : undefined);
  if (!data) throw new StudioError('INVALID_PAYLOAD', `${dir}: its card names no dataset: give --data`);
  const negatives = options.negatives ?? (card.data?.negativeFolders ?? []).map((f) => resolveProjectPath(f));
  const dataset = await openDataset(data, options.format ?? card.data?.format ?? 'masks', { negatives });
  const { split, source } = splitFor(dir, data, dataset.samples);
  if (source !== SPLIT_SOURCES.stored) throw new StudioError('INVALID_PAYLOAD', `${dir}: no stored split of ${data} (split.json): its training images cannot be told from its held-out ones`);
  const cache = new SampleCache(new Map(dataset.samples.map((s) => [s.id, s])), card.inputSize);
  const backend = await inferenceBackend(dir);
  try {
    return await fitModelAppearance(dir, backend, cache, split, { seed: split.seed, onProgress: options.onProgress });
  } finally {
    await backend.dispose();
  }
}

/** The model as the engine's workers run it: onnxruntime when it loads and can export the model, else TF.js. */
export async function inferenceBackend(dir: string): Promise<DetectorBackend> {
  const ort = await loadOrt();
  if (ort) {
    try {
      return await OnnxDetector.load(ort.ort, dir, { threads: coreCount() });
    } catch (err) {
      if (!(err instanceof OnnxExportError)) throw err;
    }
  }
  return TfjsDetector.load(dir);
}
