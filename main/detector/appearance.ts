/**
 * The appearance score: how unlike the images a model was trained on an image looks to the model itself.
 * A polyp model shown a colour photograph of something else, or a breast-ultrasound model shown a CT
 * saved as PNG, passes every check of what the image declares (preload/fit.ts) and still answers with
 * confident "lesions". Its own deep features tell: they sit far from where its training images put them.
 *
 * The rule (Lee et al., "A simple unified framework for detecting out-of-distribution samples", NeurIPS
 * 2018, on pooled features):
 *   v = mean over the image's cells of each APPEARANCE_LAYERS feature (the letterbox padding left out)
 *   z = (log(ε + v) − μ) / σ          μ, σ per feature over the training images; ε per layer, a twentieth of
 *                                       its features' typical mean, so a channel that never fires in training
 *                                       does not count its first flicker as a new kind of image
 *   score = √(zᵀ Σ⁻¹ z / D)            Σ the training images' correlation of z, shrunk toward the identity
 *                                       (Ledoit–Wolf), so a few hundred images give a stable inverse
 * The score is about 1 on images like the training ones. It is calibrated on held-out images the fit
 * never saw: the threshold is a high quantile of their scores, with a margin, so a model's own kind of
 * image from another hospital does not trip it while a different kind of image does.
 *
 * With mirror averaging, v is the mean of the views' pooled features, which is less noisy than one view's:
 * each flip set (none, h, hv) has its own statistics and threshold, fitted on features made the same way.
 */
import { existsSync } from 'node:fs';
import { readBoundedText } from '../fs/read.ts';
import { join } from 'node:path';
import { z } from 'zod';
import { FLIP_SETS, StudioError, type FlipSet } from '../../preload/contract.ts';
import type { Letterbox } from './preprocess.ts';
import type { ImageOutputs, OutputSpec } from './pipeline.ts';
import { imageCells } from './postprocess.ts';
import { fileVersion, writeAtomic } from './io.ts';

/** The file beside model.json that holds a model's appearance statistics. */
export const APPEARANCE_FILE = 'appearance.json';

/**
 * Pooled features are logged (stage outputs are ReLU'd and gated: they sit near 0 and spread over decades)
 * after an offset of this share of their layer's median training mean. A fixed tiny offset let a channel
 * that never fired in training dominate the score when it rose to 1e-4 (a score of 3.7 from one channel).
 */
const LOG_OFFSET_SHARE = 0.05;

/** The statistics of one way of computing the features (one flip set). */
export interface ViewStats {
  /** ε of each feature's log. */
  offset: number[];
  mean: number[];
  std: number[];
  /** Σ⁻¹, D×D row-major (stored as base64 float32 in the file). */
  precision: Float32Array;
}

/** What scoring one detection needs: the statistics for the flips it ran with, and their threshold. */
export interface AppearanceStats extends ViewStats {
  /** The layers pooled, in order, and their channel counts. */
  layers: { name: string; channels: number }[];
  /** Scores above this say "not an image like my training images". */
  threshold: number;
  /** The fit's stamp, where the file has one. */
  fittedAt?: string;
}

/**
 * Each view's features pooled over the image's cells (its top-left `imageCells` at that output's stride),
 * the layers concatenated in output order: one vector per view the network ran (1, 2 or 4; the features
 * outputs are [views, h, w, C], each view mapped back to the image's orientation). Undefined when the
 * backend returns no features (a lesion-only network).
 */
export function pooledViews(outputs: readonly OutputSpec[], image: ImageOutputs, box: Pick<Letterbox, 'width' | 'height'>, inputSize: number): Float32Array[] | undefined {
  const parts: Float32Array[][] = [];
  outputs.forEach((o, i) => {
    if (o.kind !== 'features') return;
    const [views, h, w, channels] = image.dims[i];
    const { cols, rows } = imageCells(box, inputSize / w);
    const data = image.data[i];
    const rs = Math.min(rows, h);
    const cs = Math.min(cols, w);
    const perView: Float32Array[] = [];
    for (let v = 0; v < views; v++) {
      const sum = new Float64Array(channels);
      const offset = v * h * w * channels;
      for (let r = 0; r < rs; r++) for (let c = 0; c < cs; c++) {
        const base = offset + (r * w + c) * channels;
        for (let k = 0; k < channels; k++) sum[k] += data[base + k];
      }
      perView.push(Float32Array.from(sum, (x) => x / (rs * cs)));
    }
    parts.push(perView);
  });
  if (!parts.length) return undefined;
  const D = parts.reduce((n, p) => n + p[0].length, 0);
  return parts[0].map((_, v) => {
    const out = new Float32Array(D);
    let at = 0;
    for (const p of parts) {
      out.set(p[v], at);
      at += p[v].length;
    }
    return out;
  });
}

/** The features of a detection over `views` (its first n views, as the flip set with n passes averages them). */
export function meanOfViews(views: readonly Float32Array[], n = views.length): Float32Array {
  if (n < 1 || n > views.length) throw new Error(`cannot average ${n} of ${views.length} views`);
  const out = new Float32Array(views[0].length);
  for (let v = 0; v < n; v++) for (let k = 0; k < out.length; k++) out[k] += views[v][k] / n;
  return out;
}

/** Scores and thresholds are kept to three decimals: what the card, the warning, the chip and batch files show. */
export function roundScore(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * A detection's appearance: its views' pooled features averaged and scored against `stats`, rounded once
 * here so that every reader (the warning, the chip, batch files, evaluation's unfamiliar share) compares and
 * shows the same value. Undefined when the network returns no features.
 */
export function appearanceOf(stats: AppearanceStats, outputs: readonly OutputSpec[], image: ImageOutputs, box: Pick<Letterbox, 'width' | 'height'>, inputSize: number): { score: number; threshold: number } | undefined {
  const views = pooledViews(outputs, image, box, inputSize);
  return views && { score: roundScore(appearanceScore(stats, meanOfViews(views))), threshold: stats.threshold };
}

function standardised(v: ArrayLike<number>, stats: Pick<ViewStats, 'offset' | 'mean' | 'std'>): Float64Array {
  const z = new Float64Array(stats.mean.length);
  for (let k = 0; k < z.length; k++) z[k] = (Math.log(stats.offset[k] + Math.max(0, v[k])) - stats.mean[k]) / stats.std[k];
  return z;
}

/** The appearance score of pooled features `v` (see the file's comment); about 1 for a training-like image. */
export function appearanceScore(stats: ViewStats, v: ArrayLike<number>): number {
  const D = stats.mean.length;
  // Statistics from another model copied beside this one: a broken model folder, said as such.
  if (v.length !== D) throw new StudioError('MODEL_LOAD_FAILED', `${APPEARANCE_FILE}: its statistics are for ${D} features, the model gives ${v.length}`);
  const z = standardised(v, stats);
  let q = 0;
  for (let i = 0; i < D; i++) {
    let row = 0;
    const base = i * D;
    for (let j = 0; j < D; j++) row += stats.precision[base + j] * z[j];
    q += z[i] * row;
  }
  return Math.sqrt(Math.max(0, q) / D);
}

/**
 * Smallest standard deviation (of a logged feature) a feature is divided by: this share of the features'
 * median one, and never under 0.1 (a 10% change of a feature is at most one deviation). A feature constant
 * in training must not make any change in it infinitely far.
 */
const STD_FLOOR = { share: 0.05, min: 0.1 };

/**
 * Fit the statistics on training images' pooled features: per-feature log offset, mean and spread of the
 * logged features, and the Ledoit–Wolf shrunk correlation's inverse. `channels`: how many features each
 * layer gives, in order (default: one layer). The threshold is set later, on held-out images.
 */
export function fitAppearance(train: readonly ArrayLike<number>[], channels?: readonly number[]): ViewStats & { shrinkage: number } {
  const n = train.length;
  if (n < 2) throw new Error(`the appearance statistics need at least 2 training images, got ${n}`);
  const D = train[0].length;
  for (const v of train) if (v.length !== D) throw new Error(`pooled features have ${v.length} values, not ${D}`);
  const layers = channels ?? [D];
  if (layers.reduce((a, b) => a + b, 0) !== D) throw new Error(`layers of ${layers.join('+')} features do not make ${D}`);
  const offset = new Array<number>(D);
  let start = 0;
  for (const c of layers) {
    const means = Array.from({ length: c }, (_, k) => train.reduce((sum, v) => sum + Math.max(0, v[start + k]), 0) / n).sort((a, b) => a - b);
    const eps = Math.max(1e-6, LOG_OFFSET_SHARE * means[Math.floor(c / 2)]);
    offset.fill(eps, start, start + c);
    start += c;
  }
  const logged = train.map((v) => Float64Array.from({ length: D }, (_, k) => Math.log(offset[k] + Math.max(0, v[k]))));
  const mean = new Array<number>(D).fill(0);
  for (const x of logged) for (let k = 0; k < D; k++) mean[k] += x[k] / n;
  const std = new Array<number>(D).fill(0);
  for (const x of logged) for (let k = 0; k < D; k++) std[k] += (x[k] - mean[k]) ** 2 / (n - 1);
  for (let k = 0; k < D; k++) std[k] = Math.sqrt(std[k]);
  const median = [...std].sort((a, b) => a - b)[Math.floor(D / 2)] || 1;
  for (let k = 0; k < D; k++) std[k] = Math.max(std[k], STD_FLOOR.share * median, STD_FLOOR.min);
  const Z = logged.map((x) => Float64Array.from({ length: D }, (_, k) => (x[k] - mean[k]) / std[k]));
  const { covariance, shrinkage } = ledoitWolf(Z);
  return { offset, mean, std, precision: Float32Array.from(invertSPD(covariance, D)), shrinkage };
}

/**
 * Ledoit & Wolf (2004), "A well-conditioned estimator for large-dimensional covariance matrices": the
 * sample covariance S of centred rows, shrunk toward m·I (m = tr S / D) by the weight that minimises the
 * expected Frobenius loss, estimated from the data.
 */
export function ledoitWolf(Z: readonly Float64Array[]): { covariance: Float64Array; shrinkage: number } {
  const n = Z.length;
  const D = Z[0].length;
  const S = new Float64Array(D * D);
  for (const z of Z) for (let i = 0; i < D; i++) {
    const zi = z[i];
    if (zi === 0) continue;
    const base = i * D;
    for (let j = 0; j < D; j++) S[base + j] += (zi * z[j]) / n;
  }
  let m = 0;
  for (let i = 0; i < D; i++) m += S[i * D + i] / D;
  let d2 = 0;
  let s2 = 0;
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) {
    const v = S[i * D + j];
    s2 += v * v;
    d2 += (v - (i === j ? m : 0)) ** 2;
  }
  // Σ_k ‖z_k z_kᵀ − S‖²_F / n², with ‖z zᵀ − S‖² = ‖z‖⁴ − 2 zᵀSz + ‖S‖².
  let b2 = 0;
  for (const z of Z) {
    let norm2 = 0;
    let zSz = 0;
    for (let i = 0; i < D; i++) {
      norm2 += z[i] * z[i];
      let row = 0;
      const base = i * D;
      for (let j = 0; j < D; j++) row += S[base + j] * z[j];
      zSz += z[i] * row;
    }
    b2 += (norm2 * norm2 - 2 * zSz + s2) / (n * n);
  }
  const shrinkage = d2 > 0 ? Math.min(1, Math.max(0, b2 / d2)) : 1;
  const covariance = new Float64Array(D * D);
  for (let i = 0; i < D * D; i++) covariance[i] = (1 - shrinkage) * S[i];
  for (let i = 0; i < D; i++) covariance[i * D + i] += shrinkage * m;
  return { covariance, shrinkage };
}

/** The inverse of a symmetric positive-definite D×D matrix, by Cholesky (A = LLᵀ, A⁻¹ = L⁻ᵀL⁻¹). */
export function invertSPD(A: ArrayLike<number>, D: number): Float64Array {
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * D + j];
      for (let k = 0; k < j; k++) s -= L[i * D + k] * L[j * D + k];
      if (i === j) {
        if (!(s > 0)) throw new Error('the appearance covariance is not positive definite');
        L[i * D + i] = Math.sqrt(s);
      } else L[i * D + j] = s / L[j * D + j];
    }
  }
  // L⁻¹ by forward substitution, column by column.
  const Li = new Float64Array(D * D);
  for (let c = 0; c < D; c++) {
    for (let i = c; i < D; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= L[i * D + k] * Li[k * D + c];
      Li[i * D + c] = s / L[i * D + i];
    }
  }
  const inv = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let k = i; k < D; k++) s += Li[k * D + i] * Li[k * D + j];
    inv[i * D + j] = s;
    inv[j * D + i] = s;
  }
  return inv;
}

const finite = z.number().refine(Number.isFinite, 'must be finite');
const viewSchema = z.object({
  offset: z.array(finite.refine((v) => v > 0, 'must be positive')),
  mean: z.array(finite),
  std: z.array(finite.refine((v) => v > 0, 'must be positive')),
  /** Σ⁻¹ as little-endian float32, base64. */
  precision: z.string(),
});

const fileSchema = z.object({
  version: z.literal(3),
  /** The fit's stamp, also in the card's `appearance.fittedAt`: statistics and thresholds pair by it. Files written before it existed lack it. */
  fittedAt: z.string().min(1).max(64).optional(),
  layers: z.array(z.object({ name: z.string(), channels: z.number().int().positive() })).min(1),
  byFlips: z.partialRecord(z.enum(FLIP_SETS), viewSchema),
});

/**
 * Write the statistics of each flip set (without their thresholds, which the card holds) as `appearance.json`
 * in `dir`, stamped `fittedAt`: the card's calibration carries the same stamp, so a reader never pairs one
 * fit's statistics with another's thresholds (`readAppearance`).
 */
export function writeAppearance(dir: string, layers: AppearanceStats['layers'], byFlips: Partial<Record<FlipSet, ViewStats>>, fittedAt: string): void {
  const views = Object.fromEntries(
    Object.entries(byFlips).map(([f, v]) => [f, { offset: v.offset.map((x) => +x.toPrecision(7)), mean: v.mean.map((x) => +x.toPrecision(7)), std: v.std.map((x) => +x.toPrecision(7)), precision: Buffer.from(v.precision.buffer, v.precision.byteOffset, v.precision.byteLength).toString('base64') }]),
  );
  writeAtomic(join(dir, APPEARANCE_FILE), `${JSON.stringify({ version: 3, fittedAt, layers, byFlips: views })}\n`);
}

/** The most bytes appearance.json may take: three flip sets of 512 features' statistics are about 4 MB. */
const MAX_FILE_BYTES = 8 * 1024 ** 2;

/** What a card says of its appearance score for one flip set (io.ts `appearanceCalibration`). */
export interface CardAppearance {
  threshold: number;
  /** The fit's stamp (card.appearance.fittedAt). */
  fittedAt?: string;
}

/**
 * A model's appearance statistics for detections run with `flips`, with the threshold its card calibrated
 * for them, or undefined when it has none (no file, no threshold in its card, or none for these flips). A
 * file that is damaged, does not match itself, or comes from another fit than the card's thresholds (a refit
 * caught between its two writes, or files of two fits mixed by hand) is an error naming it: a guard that
 * silently turned itself off, or read one fit's scores against another's threshold, would be worse than none.
 */
export function readAppearance(dir: string, flips: FlipSet, calibration: CardAppearance | undefined): AppearanceStats | undefined {
  const path = join(dir, APPEARANCE_FILE);
  if (calibration === undefined || !existsSync(path)) return undefined;
  const { threshold } = calibration;
  const fail = (why: string) => new StudioError('MODEL_LOAD_FAILED', `${path}: ${why}`, path);
  let parsed: z.infer<typeof fileSchema>;
  try {
    // A regular file of at most MAX_FILE_BYTES (a link to /dev/zero reports size 0 and never ends).
    parsed = fileSchema.parse(JSON.parse(readBoundedText(path, MAX_FILE_BYTES)));
  } catch (err) {
    throw fail(err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message);
  }
  if (parsed.fittedAt && calibration.fittedAt && parsed.fittedAt !== calibration.fittedAt) {
    throw fail(`its statistics were fitted at ${parsed.fittedAt} but the card's thresholds at ${calibration.fittedAt}: a refit is being written, or the files come from two fits (run studio appearance again)`);
  }
  const view = parsed.byFlips[flips];
  if (!view) return undefined;
  const D = parsed.layers.reduce((s, l) => s + l.channels, 0);
  const bytes = Buffer.from(view.precision, 'base64');
  if (view.offset.length !== D || view.mean.length !== D || view.std.length !== D || bytes.byteLength !== D * D * 4) throw fail(`the ${flips} statistics do not match the ${D} features of its layers`);
  const precision = new Float32Array(D * D);
  for (let i = 0; i < D * D; i++) {
    precision[i] = bytes.readFloatLE(i * 4);
    if (!Number.isFinite(precision[i])) throw fail(`the ${flips} statistics hold a value that is not a number`);
  }
  // The inverse of a (shrunk) correlation is positive definite, so its diagonal is positive, and every
  // feature has a spread. An all-zero matrix scored every image 0: a guard turned off without a word.
  for (let i = 0; i < D; i++) {
    if (!(precision[i * D + i] > 0) || !(view.std[i] > 0)) throw fail(`the ${flips} statistics are not a fit (feature ${i} has no spread or no weight): run studio appearance again`);
  }
  return { layers: parsed.layers, offset: view.offset, mean: view.mean, std: view.std, precision, threshold, ...(parsed.fittedAt ? { fittedAt: parsed.fittedAt } : {}) };
}

/**
 * `readAppearance` kept per model folder and flip set while its file is unchanged: the statistics are read
 * once, the threshold at every call (a recalibrated card applies to the next detection, like its other fields).
 */
export class AppearanceCache {
  private readonly entries = new Map<string, { version: string; stats: AppearanceStats | undefined }>();

  get(dir: string, flips: FlipSet, calibration: CardAppearance | undefined): AppearanceStats | undefined {
    if (calibration === undefined) return undefined;
    const version = fileVersion(join(dir, APPEARANCE_FILE));
    const key = `${flips}\0${dir}`;
    let hit = this.entries.get(key);
    // Read again when the file changed, or when the card names another fit than the one kept (which then
    // fails with readAppearance's own error until the two agree).
    const stale = hit?.stats?.fittedAt !== undefined && calibration.fittedAt !== undefined && hit.stats.fittedAt !== calibration.fittedAt;
    if (!hit || hit.version !== version || stale) {
      hit = { version, stats: readAppearance(dir, flips, calibration) };
      this.entries.set(key, hit);
    }
    return hit.stats && { ...hit.stats, threshold: calibration.threshold };
  }
}
