/**
 * Detection and segmentation metrics, as pure functions over per-image ground truth and predictions.
 *
 * Lesion-level rules (from the product spec): a prediction hits a lesion when its box centre lies inside
 * the lesion's mask or its IoU with the lesion's box is ≥ 0.3; a lesion counts once however many
 * predictions hit it; a false positive is a prediction that hits no lesion.
 */
import { MAX_FP_PER_NEGATIVE, type Box, type FrocPoint } from '../../preload/contract.ts';
import { quantile } from '../core/stats.ts';
import { boxIoU, type Labelling } from './components.ts';

export const FROC_RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8];
export const HIT_IOU = 0.3;

export interface Prediction {
  box: Box;
  score: number;
}

/** One image's ground truth: labelled lesions (from a mask or filled boxes). */
export type GroundTruth = Labelling;

/** Indices (into `gt.components`) of the lesions a prediction hits. */
export function lesionsHit(pred: Prediction, gt: GroundTruth, iouThreshold = HIT_IOU): number[] {
  const hits = new Set<number>();
  const cx = Math.floor((pred.box[0] + pred.box[2]) / 2);
  const cy = Math.floor((pred.box[1] + pred.box[3]) / 2);
  if (cx >= 0 && cy >= 0 && cx < gt.width && cy < gt.height) {
    const label = gt.labels[cy * gt.width + cx];
    if (label > 0) hits.add(label - 1);
  }
  gt.components.forEach((c, i) => {
    if (boxIoU(pred.box, c.box) >= iouThreshold) hits.add(i);
  });
  return [...hits];
}

export interface FrocResult {
  points: FrocPoint[];
  /** The whole curve (one point per distinct score), for plotting. */
  curve: FrocPoint[];
  lesions: number;
  images: number;
}

/**
 * Free-response ROC: sweep the score threshold from high to low; at each, sensitivity = lesions hit by a
 * kept prediction / all lesions, FP rate = kept predictions hitting nothing / images. Sensitivity at a
 * rate r is the best sensitivity over thresholds whose FP rate is ≤ r.
 */
export function froc(images: { gt: GroundTruth; predictions: Prediction[] }[], rates = FROC_RATES): FrocResult {
  const entries: { score: number; image: number; hits: number[] }[] = [];
  const lesionOffset: number[] = [];
  let lesions = 0;
  images.forEach((im, i) => {
    lesionOffset.push(lesions);
    lesions += im.gt.components.length;
    for (const p of im.predictions) entries.push({ score: p.score, image: i, hits: lesionsHit(p, im.gt) });
  });
  entries.sort((a, b) => b.score - a.score);
  const found = new Uint8Array(lesions);
  let detected = 0;
  let fps = 0;
  const n = Math.max(1, images.length);
  const curve: FrocPoint[] = [{ fpPerImage: 0, sensitivity: 0 }];
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k];
    if (e.hits.length === 0) fps++;
    for (const h of e.hits) {
      const id = lesionOffset[e.image] + h;
      if (!found[id]) {
        found[id] = 1;
        detected++;
      }
    }
    // Ties share a threshold: only record a point once all predictions with this score are in.
    if (k + 1 < entries.length && entries[k + 1].score === e.score) continue;
    curve.push({ fpPerImage: fps / n, sensitivity: lesions ? detected / lesions : 0 });
  }
  const points = rates.map((r) => {
    let best = 0;
    for (const c of curve) if (c.fpPerImage <= r + 1e-12 && c.sensitivity > best) best = c.sensitivity;
    return { fpPerImage: r, sensitivity: best };
  });
  return { points, curve, lesions, images: images.length };
}

export function sensitivityAt(result: FrocResult, rate: number): number {
  let best = 0;
  for (const c of result.curve) if (c.fpPerImage <= rate + 1e-12 && c.sensitivity > best) best = c.sensitivity;
  return best;
}

/**
 * The operating point at `rate` false positives per image: the lowest score threshold whose FP rate is
 * still ≤ rate (ties kept or dropped together, as the FROC sweep does). Keeping every prediction scoring
 * at least this finds exactly `sensitivityAt(froc(images), rate)` of the lesions, since sensitivity only
 * grows along the sweep. Infinity when even the top-scoring predictions exceed the rate.
 */
export function operatingScore(images: { gt: GroundTruth; predictions: Prediction[] }[], rate: number): number {
  const entries: { score: number; fp: boolean }[] = [];
  for (const im of images) for (const p of im.predictions) entries.push({ score: p.score, fp: lesionsHit(p, im.gt).length === 0 });
  entries.sort((a, b) => b.score - a.score);
  const n = Math.max(1, images.length);
  let fps = 0;
  let threshold = Infinity;
  for (let k = 0; k < entries.length; k++) {
    if (entries[k].fp) fps++;
    if (k + 1 < entries.length && entries[k + 1].score === entries[k].score) continue;
    if (fps / n > rate + 1e-12) break;
    threshold = entries[k].score;
  }
  return threshold;
}

/**
 * A score to cut findings at that keeps exactly the operating point's predictions (`operatingScore`), with
 * room on both sides: halfway between the lowest kept score and the highest dropped one (or `floor`, the
 * threshold the predictions were cut at, when none is dropped). A viewer that re-runs the model, whose
 * scores may differ in the last digits (another runtime, another backend), then keeps the same findings;
 * cutting at the kept score itself would drop one that came out a hair lower. Null when no score keeps the
 * rate (no predictions, or a top-scoring tie group that already exceeds it).
 */
export function operatingCut(images: { predictions: Prediction[] }[], operating: number, floor: number): number | null {
  if (!Number.isFinite(operating)) return null;
  let below = floor;
  for (const im of images) for (const p of im.predictions) if (p.score < operating && p.score > below) below = p.score;
  return (operating + below) / 2;
}

/** One image's detection outcome at a score threshold: lesions found (each once) and false positives. */
export function detectionAt(image: { gt: GroundTruth; predictions: Prediction[] }, threshold: number): { found: number; falsePositives: number } {
  const found = new Set<number>();
  let falsePositives = 0;
  for (const p of image.predictions) {
    if (p.score < threshold) continue;
    const hits = lesionsHit(p, image.gt);
    if (hits.length === 0) falsePositives++;
    for (const h of hits) found.add(h);
  }
  return { found: found.size, falsePositives };
}

/**
 * Average precision at IoU 0.5 (all-point interpolated, as PASCAL VOC 2010+): predictions in score
 * order, each matched greedily to the unmatched lesion box it overlaps most (IoU ≥ 0.5) in its image.
 */
export function averagePrecision(images: { gt: GroundTruth; predictions: Prediction[] }[], iouThreshold = 0.5): number {
  const entries: { score: number; image: number; box: Box }[] = [];
  let total = 0;
  images.forEach((im, i) => {
    total += im.gt.components.length;
    for (const p of im.predictions) entries.push({ score: p.score, image: i, box: p.box });
  });
  if (total === 0) return 0;
  entries.sort((a, b) => b.score - a.score);
  const matched = images.map((im) => new Uint8Array(im.gt.components.length));
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const e of entries) {
    const comps = images[e.image].gt.components;
    let best = -1;
    let bestIoU = iouThreshold;
    comps.forEach((c, j) => {
      if (matched[e.image][j]) return;
      const iou = boxIoU(e.box, c.box);
      if (iou >= bestIoU) {
        bestIoU = iou;
        best = j;
      }
    });
    if (best >= 0) {
      matched[e.image][best] = 1;
      tp++;
    } else fp++;
    precision.push(tp / (tp + fp));
    recall.push(tp / total);
  }
  // Precision envelope from the right, then area under the step curve.
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < recall.length; i++) {
    ap += (recall[i] - prevRecall) * precision[i];
    prevRecall = recall[i];
  }
  return ap;
}

/**
 * Dice and IoU of a binarised prediction against a binary target over the pixels `valid` marks (the
 * letterbox padding is not image). Both empty counts as a perfect 1.
 */
export function overlap(pred: ArrayLike<number>, target: ArrayLike<number>, threshold = 0.5, valid?: ArrayLike<number>): { dice: number; iou: number } {
  let inter = 0;
  let p = 0;
  let t = 0;
  for (let i = 0; i < target.length; i++) {
    if (valid && !valid[i]) continue;
    const a = pred[i] > threshold ? 1 : 0;
    const b = target[i] > 0.5 ? 1 : 0;
    inter += a & b;
    p += a;
    t += b;
  }
  if (p + t === 0) return { dice: 1, iou: 1 };
  return { dice: (2 * inter) / (p + t), iou: inter / (p + t - inter) };
}

/**
 * Pointing game: for each lesion, is the attention map's maximum inside it? The map is given at the
 * ground truth's resolution. A lesion is hit if any maximal pixel (ties) lies within `tolerance` pixels
 * of the lesion. Returns hits and the number of lesions.
 */
export function pointingGame(attention: ArrayLike<number>, gt: GroundTruth, tolerance = 0, valid?: ArrayLike<number>): { hits: number; lesions: number } {
  let max = -Infinity;
  for (let i = 0; i < attention.length; i++) if ((!valid || valid[i]) && attention[i] > max) max = attention[i];
  const maxima: number[] = [];
  for (let i = 0; i < attention.length; i++) if ((!valid || valid[i]) && attention[i] === max) maxima.push(i);
  const hitLesions = new Set<number>();
  const { width, height, labels } = gt;
  for (const p of maxima) {
    const x = p % width;
    const y = (p - x) / width;
    for (let dy = -tolerance; dy <= tolerance; dy++) {
      for (let dx = -tolerance; dx <= tolerance; dx++) {
        if (dx * dx + dy * dy > tolerance * tolerance) continue;
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const l = labels[ny * width + nx];
        if (l > 0) hitLesions.add(l);
      }
    }
  }
  return { hits: hitLesions.size, lesions: gt.components.length };
}

/** Latency summary of per-image milliseconds (percentiles by the one quantile rule, core/stats.ts). */
export function latency(ms: number[]): { mean: number; median: number; p95: number } {
  if (ms.length === 0) return { mean: 0, median: 0, p95: 0 };
  const s = [...ms].sort((a, b) => a - b);
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, median: quantile(s, 0.5), p95: quantile(s, 0.95) };
}

/**
 * Candidate lesion-map thresholds for calibration on a validation split. Finer above 0.8: a model trained
 * with lesion-free frames is often quiet enough on them (MAX_FP_PER_NEGATIVE) only above 0.8, and a grid
 * that stopped there left its operating point at 0.8 whatever that cost on normal tissue.
 */
export const THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95];

/** The threshold with the best mean Dice (ties: the one nearest 0.5). */
export function bestThreshold(diceByThreshold: Record<string, number>): number {
  let best = 0.5;
  let bestDice = -1;
  for (const [t, d] of Object.entries(diceByThreshold)) {
    const v = Number(t);
    if (d > bestDice + 1e-9 || (Math.abs(d - bestDice) <= 1e-9 && Math.abs(v - 0.5) < Math.abs(best - 0.5))) {
      best = v;
      bestDice = d;
    }
  }
  return best;
}


/**
 * Area under the ROC curve of scores that should rank `positives` above `negatives`: the probability that
 * a random positive outscores a random negative, ties counting half (the Mann–Whitney U statistic).
 */
export function auroc(positives: readonly number[], negatives: readonly number[]): number | null {
  if (!positives.length || !negatives.length) return null;
  const all = [...positives.map((v) => ({ v, p: true })), ...negatives.map((v) => ({ v, p: false }))].sort((a, b) => a.v - b.v);
  // Mid-ranks for ties, then U of the positives.
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k].p) rankSum += rank;
    i = j + 1;
  }
  const n1 = positives.length;
  return (rankSum - (n1 * (n1 + 1)) / 2) / (n1 * negatives.length);
}

/** Findings per lesion-free image (`lesionImage[i]` false), from each image's count; 0 without any such image. */
export function fpPerNegative(findings: readonly number[], lesionImage: readonly boolean[]): number {
  let n = 0;
  let fp = 0;
  findings.forEach((count, i) => {
    if (lesionImage[i]) return;
    n++;
    fp += count;
  });
  return n ? fp / n : 0;
}

/**
 * The threshold whose candidates are a model's findings by default (its operating point), from a validation
 * split: the best sensitivity at 1 FP/image among the thresholds that keep findings on lesion-free images at
 * or under `maxPerNegative` per image, when the split has lesion-free images; if none does, the one with the
 * fewest such findings (a model that cannot stay quiet still gets its quietest point). Without lesion-free
 * images: the best sensitivity at 1 FP/image, as before.
 */
export function operatingThreshold(sensitivityByThreshold: Record<string, number>, fpPerNegativeByThreshold?: Record<string, number>, maxPerNegative = MAX_FP_PER_NEGATIVE): number {
  if (!fpPerNegativeByThreshold || Object.keys(fpPerNegativeByThreshold).length === 0) return bestThreshold(sensitivityByThreshold);
  const quiet = Object.fromEntries(Object.entries(sensitivityByThreshold).filter(([t]) => (fpPerNegativeByThreshold[t] ?? Infinity) <= maxPerNegative + 1e-9));
  if (Object.keys(quiet).length) return bestThreshold(quiet);
  const [quietest] = Object.entries(fpPerNegativeByThreshold).sort((a, b) => a[1] - b[1] || (sensitivityByThreshold[b[0]] ?? 0) - (sensitivityByThreshold[a[0]] ?? 0));
  return Number(quietest[0]);
}

export { MAX_FP_PER_NEGATIVE } from '../../preload/contract.ts';
