/**
 * Evaluate a trained model on a dataset split: lesion-level FROC, AP@0.5, Dice/IoU of the thresholded
 * lesion map, the attention pointing game, and latency. Everything is measured in the letterboxed input
 * space (inputSize²), excluding the padding.
 *
 * The split comes from the model's own split.json when the dataset is the one it was trained on, so
 * evaluation never sees training images; on another dataset the same seeded split rule is applied.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { type CardMetrics, type EvaluationReport, type ImageScore, SPLIT_SOURCES, StudioError } from '../../preload/contract.ts';
import { lastSpatialGate } from '../detector/model.ts';
import { isFlipSet, type FlipSet } from '../detector/flips.ts';
import { loadModel, readCard } from '../detector/io.ts';
import { predict } from '../detector/pipeline.ts';
import { appearanceOf, readAppearance, roundScore, type AppearanceStats } from '../detector/appearance.ts';
import { quantile } from '../core/stats.ts';
import { isUnfamiliar } from '../../preload/fit.ts';
import { TfjsDetector } from '../detector/tfjs-detector.ts';
import { completeSplit, openDataset, readStoredSplit, SampleCache, splitSamples, validRegion, type DatasetFormat, type Letterbox, type Sample, type Split, type SplitName } from '../datasets/index.ts';
import { useBackend } from '../detector/kernels/backend.ts';
import { connectedComponents } from './components.ts';
import { imageLesionMap, shownCandidatesAt, upsample } from './maps.ts';
import { renderFrame, renderingsFor } from './renderings.ts';
import { lesionScore } from '../detector/postprocess.ts';
import { auroc, averagePrecision, fpPerNegative, detectionAt, froc, latency, operatingCut, operatingScore, overlap, pointingGame, sensitivityAt, THRESHOLDS, type GroundTruth, type Prediction } from './metrics.ts';
import { portablePath, resolveProjectPath } from '../settings.ts';

export { bestThreshold, THRESHOLDS } from './metrics.ts';

export interface EvaluateOptions {
  modelDir: string;
  data: string;
  format?: DatasetFormat;
  split?: SplitName;
  /**
   * Score only the split's images that are also among these, in the order given here: the images every
   * compared model holds in this split (`commonSplit`), so models trained on other splits meet the same
   * images, and a limit takes the same first ones for each.
   */
  among?: readonly string[];
  /**
   * Score exactly these images, in this order, whatever split the model's own files name: for a caller that
   * holds its own held-out set (an adaptation scores base and adapted on the site's test sequences, which
   * neither trained on). The report's split source says so.
   */
  ids?: readonly string[];
  limit?: number;
  /** Folders of lesion-free images added to the data (split by the same seeded rule; see datasets/split.ts). */
  negatives?: readonly string[];
  /** Threshold of the lesion map for Dice/IoU (default: the card's validation-calibrated one, else 0.5). */
  threshold?: number;
  /** Test-time flip averaging (default: the card's `flips`, else none), as the detector engine runs it. */
  flips?: FlipSet;
  onProgress?(done: number, total: number): void;
  /**
   * Also score the images as other devices would render them (renderings.ts; the set for the kind of image
   * the card says the model is for): each rendering costs one more pass over the images. The report's `renderings` holds each one's figures at the same thresholds.
   */
  renderings?: boolean;
  /** Asked between images: 'cancel' stops the evaluation with CANCELLED (a caller's pause waits in here). */
  gate?(): Promise<'go' | 'cancel'>;
}

/** The report as evaluation writes it: every field of the contract's report is present. */
export type FullReport = EvaluationReport &
  Required<Pick<EvaluationReport, 'backend' | 'flips' | 'threshold' | 'candidateThreshold' | 'sensitivity1FPByCandidateThreshold' | 'diceByThreshold' | 'sensitivity1FP' | 'frocCurve' | 'pointingSource' | 'pointingByModule' | 'pointingCeiling' | 'latency' | 'splitSource'>>;

/**
 * `unseen`: the model's stored split names other data than this (a base meeting a site's review store): it
 * never trained on any of these images, so all of them are held out from it.
 */
export function splitFor(modelDir: string, data: string, samples: Sample[]): { split: Split; source: FullReport['splitSource']; unseen?: boolean } {
  const known = new Set(samples.map((s) => s.id));
  const stored = readStoredSplit(modelDir);
  const seed = stored?.seed ?? 42;
  if (stored) {
    const split = stored;
    const card = readCard(modelDir);
    const all = [...split.train, ...split.val, ...split.test];
    // Same dataset (by path, or every split id present): use the stored split as is.
    if ((card.data?.path && resolveProjectPath(card.data.path) === resolve(data)) || (all.length > 0 && all.every((id) => known.has(id)))) {
      // Lesion-free images added since the model was trained are split by the same rule: never trained on, they
      // are held out. Images the split names that this data lacks (negatives it was trained with, left out
      // now; a review image back to pending) are not scored.
      const present = (part: string[]) => part.filter((id) => known.has(id));
      const complete = completeSplit(split, samples);
      return { split: { ...complete, train: present(complete.train), val: present(complete.val), test: present(complete.test) }, source: SPLIT_SOURCES.stored };
    }
  }
  return { split: splitSamples(samples, seed), source: SPLIT_SOURCES.recomputed, unseen: stored !== undefined && ![...stored.train, ...stored.val, ...stored.test].some((id) => known.has(id)) };
}

/**
 * The images of a dataset that lie in the `which` split of every given model, in the first model's order.
 * Scored on these, models trained on different splits are compared on the same images; for the test
 * split these are images none of them trained on. Refused when there are none, naming each model's count.
 */
export async function commonSplit(models: { name: string; modelDir: string }[], data: string, format: DatasetFormat, which: SplitName, negatives?: readonly string[]): Promise<string[]> {
  const samples = (await openDataset(data, format, { negatives })).samples;
  // A model that never trained on this data holds all of it out: it meets the others on their images (a
  // base beside the model adapted from it meets the site's own held-out images).
  const splits = models.map((m) => {
    const { split, unseen } = splitFor(m.modelDir, data, samples);
    return unseen ? samples.map((s) => s.id) : split[which];
  });
  const others = splits.slice(1).map((s) => new Set(s));
  const common = (splits[0] ?? []).filter((id) => others.every((s) => s.has(id)));
  if (common.length === 0) {
    const counts = models.map((m, i) => `${m.name} ${splits[i].length}`).join(', ');
    throw new StudioError('INVALID_PAYLOAD', `no image of ${data} lies in the ${which} split of every picked model (${counts} images each): score each on its own split instead`, data);
  }
  return common;
}

/**
 * The first `limit` ids, lesion-free ones (`negatives`) in their share of the whole: a split lists them
 * after the lesion images, and a plain prefix would leave them all out.
 */
export function limitKeepingShare(ids: readonly string[], limit: number, negatives: ReadonlySet<string>): string[] {
  if (limit >= ids.length) return [...ids];
  const neg = ids.filter((id) => negatives.has(id));
  const pos = ids.filter((id) => !negatives.has(id));
  // Rounded down, so a limit of one on a split with lesion images still scores a lesion image.
  const nNeg = Math.min(neg.length, Math.floor((limit * neg.length) / ids.length));
  const keep = new Set([...pos.slice(0, limit - nNeg), ...neg.slice(0, nNeg)]);
  return ids.filter((id) => keep.has(id));
}

/** What a model card keeps of a report (cardMetricsSchema): all but its curve and per-image scores, dated. */
export function cardMetricsOf(report: FullReport): CardMetrics {
  const { frocCurve: _curve, perImage: _perImage, ...summary } = report;
  return { ...summary, evaluatedAt: new Date().toISOString() };
}

/** A short digest of the scored image ids, order-free: equal for two reports on the same images. */
export function imageSetOf(ids: readonly string[]): string {
  return createHash('sha256').update([...ids].sort().join('\n')).digest('hex').slice(0, 16);
}

/**
 * What a clinician sees image by image, at the model's own finding threshold (the findings the viewer
 * draws): on lesion-free images, findings per image and the share with any; whether "any finding" tells
 * lesion images from lesion-free ones (sensitivity, specificity); and how well the lesion map's peak ranks
 * them (AUROC). Image-level figures need both kinds of image, and are null without them.
 */
export function imageLevel(
  scores: Pick<ImageScore, 'lesions' | 'findings'>[],
  peaks: number[],
  /** Whether each image has any lesion pixel: evaluation's one rule for a lesion image. */
  lesionImage: readonly boolean[],
): Pick<EvaluationReport, 'negatives' | 'fpPerNegativeImage' | 'negativesWithFindings' | 'imageSensitivity' | 'imageSpecificity' | 'imageAUROC'> {
  const negative = lesionImage.map((l) => !l);
  const negatives = negative.filter(Boolean).length;
  const positives = scores.length - negatives;
  const findings = scores.map((s) => s.findings ?? 0);
  const flaggedNegatives = findings.filter((n, i) => negative[i] && n > 0).length;
  const flaggedPositives = findings.filter((n, i) => !negative[i] && n > 0).length;
  return {
    negatives,
    fpPerNegativeImage: negatives ? fpPerNegative(findings, lesionImage) : null,
    negativesWithFindings: negatives ? flaggedNegatives / negatives : null,
    imageSensitivity: positives ? flaggedPositives / positives : null,
    imageSpecificity: negatives ? 1 - flaggedNegatives / negatives : null,
    imageAUROC: positives && negatives ? auroc(peaks.filter((_, i) => !negative[i]), peaks.filter((_, i) => negative[i])) : null,
  };
}

export async function evaluateModel(name: string, options: EvaluateOptions): Promise<FullReport> {
  const backend = await useBackend();
  const card = readCard(options.modelDir);
  const trained = await loadModel(options.modelDir);
  // The network the viewer runs (BatchNorm folded), through the same pipeline: a report scores what a reader sees.
  const detector = new TfjsDetector(trained);
  const outputs = detector.outputs;
  const size = card.inputSize;
  const dataset = await openDataset(options.data, options.format ?? 'masks', { negatives: options.negatives });
  const { split, source } = options.ids ? { split: undefined, source: SPLIT_SOURCES.given } : splitFor(options.modelDir, options.data, dataset.samples);
  const which = options.split ?? 'test';
  let ids = options.ids ? [...options.ids] : (split as Split)[which];
  if (options.among) {
    // In the given order, so a limit takes the same first images for every compared model.
    const inSplit = new Set(ids);
    ids = options.among.filter((id) => inSplit.has(id));
  }
  if (options.limit) ids = limitKeepingShare(ids, options.limit, new Set(dataset.samples.filter((s) => s.negative).map((s) => s.id)));
  if (ids.length === 0) {
    // A review store's split holds only images its readers finished: say so, rather than score nothing.
    const what = options.format === 'review' ? `no fully reviewed image of the review store ${options.data} lies in ${name}'s ${which} split (${dataset.samples.length} reviewed in all): review more images, or score another split` : `the ${which} split of ${options.data} is empty`;
    throw new StudioError('INVALID_PAYLOAD', what, options.data);
  }
  const cache = new SampleCache(new Map(dataset.samples.map((s) => [s.id, s])), size);
  const threshold = options.threshold ?? (typeof card.threshold === 'number' ? card.threshold : 0.5);
  const flips: FlipSet = options.flips ?? (isFlipSet(card.flips) ? card.flips : 'none');
  const diceAt = new Map(THRESHOLDS.map((t) => [t, 0]));
  const candidateThreshold = typeof card.candidateThreshold === 'number' ? card.candidateThreshold : 0.5;
  const candidatesAt = new Map(THRESHOLDS.map((t) => [t, [] as { gt: GroundTruth; predictions: Prediction[] }[]]));

  const spatial = outputs.map((o, i) => ({ ...o, index: i })).filter((o) => o.kind === 'spatial');
  const supervisedName = lastSpatialGate(trained);
  const supervised = spatial.find((s) => s.name === supervisedName);
  const pointingHits: Record<string, number> = Object.fromEntries(spatial.map((s) => [s.name, 0]));
  let heatmapHits = 0;
  // Hits of the map the pointing game is scored on (the supervised gate, else the heatmap): lesions, and images.
  let sourceLesionHits = 0;
  let sourceImageHits = 0;
  let imagesWithLesions = 0;
  let lesions = 0;
  let dice = 0;
  let iou = 0;
  const perImage: { gt: GroundTruth; predictions: Prediction[] }[] = [];
  const scores: Omit<ImageScore, 'found' | 'falsePositives'>[] = [];
  const peaks: number[] = [];
  const lesionImage: boolean[] = [];
  // What the renderings are scored against, image by image (their truth, not their pixels).
  const scored: ScoredImage[] = [];
  const ms: number[] = [];
  const s4 = size / 4;
  const renderings = renderingsFor(card.intendedUse?.colour);
  const total = ids.length * (options.renderings ? 1 + Object.keys(renderings).length : 1);
  const rendered: NonNullable<EvaluationReport['renderings']> = {};
  let stats: AppearanceStats | undefined;
  const appearances: number[] = [];

  try {
    // Inside the try: a damaged appearance.json must not leak the networks loaded above.
    const calibrated = card.appearance?.byFlips?.[flips];
    stats = readAppearance(options.modelDir, flips, calibrated && { threshold: calibrated.threshold, fittedAt: card.appearance?.fittedAt });
    for (let i = 0; i < ids.length; i++) {
      const d = await cache.get(ids[i]);
      const t0 = performance.now();
      const [out] = await predict(detector, [d.image], { flips });
      const { data: arrays, dims: shapes } = out;
      ms.push(performance.now() - t0);
      // The detector's own rule (pipeline.ts detect), so the share counts the images the viewer would flag.
      const appearance = stats && appearanceOf(stats, outputs, out, d.box, size);
      if (appearance) appearances.push(appearance.score);

      const prob = arrays[0];
      const full = upsample(prob, s4, s4, size, size);
      const valid = validRegion(d.box);
      const o = overlap(full, d.mask, threshold, valid);
      const gt = connectedComponents(d.mask, size, size, 0.5, 10);
      // Dice and IoU measure how well lesions are outlined: over the images that have one. What the model
      // does on lesion-free images is counted by the negatives' own figures below. An image with any lesion
      // pixel is a lesion image, even one too small to count as a lesion for FROC.
      const hasLesion = d.mask.some((v) => v > 0);
      lesionImage.push(hasLesion);
      if (hasLesion) {
        dice += o.dice;
        iou += o.iou;
        for (const t of THRESHOLDS) diceAt.set(t, (diceAt.get(t) as number) + overlap(full, d.mask, t, valid).dice);
      }
      // The score the detector reports with its findings, so image AUROC ranks what a reader is shown.
      // The map over the image alone, as the viewer shows it: its peak, and candidates cut as the viewer cuts
      // its findings (none in the padding).
      const shown = imageLesionMap(prob, s4, d.box);
      const peak = lesionScore(shown);
      peaks.push(peak);
      lesions += gt.components.length;
      const [predictions, ...atEach] = shownCandidatesAt(shown, [candidateThreshold, ...THRESHOLDS]);
      perImage.push({ gt, predictions });
      scored.push({ gt, mask: d.mask, box: d.box, lesion: hasLesion });
      THRESHOLDS.forEach((t, k) => candidatesAt.get(t)?.push({ gt, predictions: atEach[k] }));
      if (gt.components.length) imagesWithLesions++;
      let sourceHits = pointingGame(full, gt, 0, valid).hits;
      heatmapHits += sourceHits;
      for (const s of spatial) {
        const [, h, w] = shapes[s.index];
        const map = upsample(arrays[s.index], w as number, h as number, size, size);
        const hits = pointingGame(map, gt, 0, valid).hits;
        pointingHits[s.name] += hits;
        if (s === supervised) sourceHits = hits;
      }
      sourceLesionHits += sourceHits;
      scores.push({ id: ids[i], dice: o.dice, lesions: gt.components.length, pointed: sourceHits, score: peak, findings: predictions.length });
      if (sourceHits > 0) sourceImageHits++;
      options.onProgress?.(i + 1, total);
      if (options.gate && (await options.gate()) === 'cancel') throw new StudioError('CANCELLED', `scoring ${name} cancelled`);
    }
    if (options.renderings) {
      let done = ids.length;
      for (const [label, render] of Object.entries(renderings)) {
        const maps: Float32Array[] = [];
        // Of the rendered images the appearance score could score (a backend without features scores none).
        let scoredByAppearance = 0;
        let unfamiliar = 0;
        for (const id of ids) {
          const d = await cache.get(id);
          const [out] = await predict(detector, [renderFrame(render, d.image, size, d.box)], { flips });
          maps.push(out.data[0]);
          const appearance = stats && appearanceOf(stats, outputs, out, d.box, size);
          if (appearance) {
            scoredByAppearance++;
            if (isUnfamiliar(appearance)) unfamiliar++;
          }
          options.onProgress?.(++done, total);
          if (options.gate && (await options.gate()) === 'cancel') throw new StudioError('CANCELLED', `scoring ${name} cancelled`);
        }
        rendered[label] = { ...mapFigures(maps, scored, { side: s4, size, threshold, candidateThreshold }), ...(scoredByAppearance ? { unfamiliarShare: unfamiliar / scoredByAppearance } : {}) };
      }
    }
  } finally {
    // Both networks (the trained one and its folded copy), also when an image fails to decode.
    detector.dispose();
  }

  const f = froc(perImage);
  const lesionImages = lesionImage.filter(Boolean).length;
  const images = imageLevel(scores, peaks, lesionImage);
  const operating = operatingScore(perImage, 1);
  const lat = latency(ms);
  const pointingByModule = Object.fromEntries(Object.entries(pointingHits).map(([k, v]) => [k, lesions ? v / lesions : 0]));
  return {
    model: name,
    data: portablePath(options.data),
    ...(options.negatives?.length ? { negativeFolders: options.negatives.map(portablePath) } : {}),
    split: which,
    images: ids.length,
    imageSet: imageSetOf(ids),
    lesions,
    froc: f.points,
    ap50: averagePrecision(perImage),
    dice: lesionImages ? dice / lesionImages : 0,
    iou: lesionImages ? iou / lesionImages : 0,
    pointingGame: lesions ? sourceLesionHits / lesions : 0,
    pointingGameImages: imagesWithLesions ? sourceImageHits / imagesWithLesions : 0,
    latencyMs: lat.mean,
    operatingScore1FP: operatingCut(perImage, operating, candidateThreshold),
    perImage: scores.map((s, i) => ({ ...s, ...detectionAt(perImage[i], operating) })),
    backend,
    flips,
    threshold,
    candidateThreshold,
    sensitivity1FPByCandidateThreshold: Object.fromEntries([...candidatesAt].map(([t, im]) => [t.toFixed(2), sensitivityAt(froc(im), 1)])),
    ...(images.negatives ? { fpPerNegativeImageByCandidateThreshold: Object.fromEntries([...candidatesAt].map(([t, im]) => [t.toFixed(2), fpPerNegative(im.map((x) => x.predictions.length), lesionImage)])) } : {}),
    diceByThreshold: Object.fromEntries([...diceAt].map(([t, v]) => [t.toFixed(2), lesionImages ? v / lesionImages : 0])),
    sensitivity1FP: f.points.find((p) => p.fpPerImage === 1)?.sensitivity ?? 0,
    frocCurve: f.curve,
    pointingSource: supervised ? `attention ${supervised.name}` : 'lesion heatmap (the baseline has no attention module)',
    pointingByModule: { ...pointingByModule, heatmap: lesions ? heatmapHits / lesions : 0 },
    pointingCeiling: lesions ? imagesWithLesions / lesions : 0,
    ...images,
    latency: { ...lat, batch1: true },
    splitSource: source,
    ...(stats && appearances.length ? { appearance: appearanceSummary(appearances, stats.threshold) } : {}),
    ...(options.renderings ? { renderings: rendered } : {}),
  };
}

/** What scoring a lesion map of one image needs: its lesions, its mask and letterbox, whether it has a lesion. */
export interface ScoredImage {
  gt: GroundTruth;
  mask: Uint8Array;
  box: Letterbox;
  lesion: boolean;
}

/**
 * Figures of lesion maps (S/4, `side` cells a side, of images `size` pixels a side) by evaluation's own
 * rules: sensitivity at 1 FP/image over all images and findings per lesion-free image with candidates cut at
 * `candidateThreshold`, Dice at `threshold` over the lesion images, and image AUROC of the detector's lesion
 * score. What a report keeps for each rendering, and what the experiment scripts score their maps by.
 */
export function mapFigures(
  maps: readonly Float32Array[],
  images: readonly ScoredImage[],
  at: { side: number; size: number; threshold: number; candidateThreshold: number },
): Omit<NonNullable<EvaluationReport['renderings']>[string], 'unfamiliarShare'> {
  const candidates: { gt: GroundTruth; predictions: Prediction[] }[] = [];
  const peaks: number[] = [];
  let dice = 0;
  images.forEach((image, i) => {
    const shown = imageLesionMap(maps[i], at.side, image.box);
    candidates.push({ gt: image.gt, predictions: shownCandidatesAt(shown, [at.candidateThreshold])[0] });
    peaks.push(lesionScore(shown));
    if (image.lesion) dice += overlap(upsample(maps[i], at.side, at.side, at.size, at.size), image.mask, at.threshold, validRegion(image.box)).dice;
  });
  const lesionImage = images.map((image) => image.lesion);
  const lesionImages = lesionImage.filter(Boolean).length;
  const negatives = lesionImage.length - lesionImages;
  return {
    sensitivity1FP: sensitivityAt(froc(candidates), 1),
    dice: lesionImages ? dice / lesionImages : 0,
    fpPerNegativeImage: negatives ? fpPerNegative(candidates.map((x) => x.predictions.length), lesionImage) : null,
    imageAUROC: lesionImages && negatives ? auroc(peaks.filter((_, i) => lesionImage[i]), peaks.filter((_, i) => !lesionImage[i])) : null,
  };
}

function appearanceSummary(scores: number[], threshold: number): NonNullable<EvaluationReport['appearance']> {
  const sorted = [...scores].sort((a, b) => a - b);
  const at = (q: number) => roundScore(quantile(sorted, q));
  return { threshold, unfamiliarShare: sorted.filter((score) => isUnfamiliar({ score, threshold })).length / sorted.length, median: at(0.5), p95: at(0.95) };
}
