/**
 * What a training run would use, before it starts (`training.plan`): how many images, lesion images,
 * lesions and lesion-free images the whole set and each part of its split hold, what a review store holds
 * back, and the one rule for when a set cannot train (`planProblems`), which `training.start`,
 * `training.adapt`, `studio train` and `studio adapt` all refuse by.
 *
 * Counting reads each mask file once (sharp, a few at a time: about a second per thousand small JPEG masks);
 * the counts are kept in memory by file, size and modification time, so a panel asking again after a seed
 * or limit change only re-splits. Nothing is written to disk.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { decodeMaskFile } from './decode.ts';
import { MIN_TRAINING_IMAGES, type PlanCounts, StudioError, type TrainingPlan } from '../../preload/contract.ts';
import { type Dataset, type DatasetFormat, listNegatives, openDataset, type Sample } from './formats.ts';
import { reviewedDataset, type ReviewRead } from './review.ts';
import { limitSamples, splitSamples, type Split } from './split.ts';
import { regions8 } from '../core/regions.ts';

/**
 * A lesion in a mask is a connected region of at least this many pixels: smaller specks (kvasir-seg's stray
 * pixel at (0, 0)) are noise, as evaluation's ground truth treats them. An image with any lesion pixel is a
 * lesion image all the same (evaluation's lesion-image rule).
 */
const MIN_LESION_PIXELS = 10;

/** Salt of the seeded shuffle a run's `limit` draws its samples with, so it does not mirror the split's. */
const LIMIT_SALT = 0x5eed;

/**
 * The ids of the samples a run trains on, in the dataset's order or the limit's draw: all of them, or
 * `limit` drawn by the seeded rule (whole groups). The trainer splits exactly these with `splitSamples(…,
 * seed)`, and so does the plan: what the plan reports is what the run uses.
 */
export function runSampleIds(samples: Sample[], options: { seed: number; limit?: number }): string[] {
  return options.limit ? limitSamples(samples, options.limit, options.seed ^ LIMIT_SALT) : samples.map((s) => s.id);
}

/** What one sample's truth holds. */
interface Truth {
  lesionImage: boolean;
  lesions: number;
}

/** Counts of mask files, by path, size and modification time (a rewritten mask is read again). */
const maskCounts = new Map<string, Truth>();
const MAX_CACHED = 50_000;

/** The regions of `value >= threshold` of at least `minArea` pixels, 8-connected (core/regions.ts, the rule of the viewer's and evaluation's components). */
export function countRegions(data: ArrayLike<number>, width: number, height: number, threshold: number, minArea: number): number {
  return regions8(data, width, height, (v) => v >= threshold).filter((r) => r.area >= minArea).length;
}

function lesionsIn(data: ArrayLike<number>, width: number, height: number, threshold: number): Truth {
  let any = false;
  for (let i = 0; i < data.length && !any; i++) any = data[i] >= threshold;
  return { lesionImage: any, lesions: any ? countRegions(data, width, height, threshold, MIN_LESION_PIXELS) : 0 };
}

async function maskFileTruth(file: string): Promise<Truth> {
  const st = statSync(file);
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  const known = maskCounts.get(key);
  if (known) return known;
  let raw: { data: Buffer; info: { width: number; height: number } };
  try {
    // Read as training reads it (datasets/decode.ts): grey, alpha dropped, lesion where the value is above 127.
    raw = await decodeMaskFile(file);
  } catch (err) {
    // The raster checks name the file and say why already.
    if (err instanceof StudioError) throw err;
    throw new StudioError('DECODE_FAILED', `cannot read mask ${file}: ${(err as Error).message}`, file);
  }
  const truth = lesionsIn(raw.data, raw.info.width, raw.info.height, 128);
  if (maskCounts.size >= MAX_CACHED) maskCounts.delete(maskCounts.keys().next().value as string);
  maskCounts.set(key, truth);
  return truth;
}

/** A sample's lesions: components of its mask file and of its brush masks, and one per box. */
async function sampleTruth(sample: Sample): Promise<Truth> {
  let lesions = sample.boxes?.length ?? 0;
  let lesionImage = lesions > 0;
  for (const part of [sample.mask ? await maskFileTruth(sample.mask) : undefined, sample.rasterMask ? await sample.rasterMask().then((m) => lesionsIn(m.data, m.width, m.height, 1)) : undefined]) {
    if (!part) continue;
    lesions += part.lesions;
    lesionImage ||= part.lesionImage;
  }
  return { lesionImage, lesions };
}

async function truths(samples: Sample[], concurrency = 4): Promise<Map<string, Truth>> {
  const out = new Map<string, Truth>();
  let next = 0;
  const worker = async () => {
    while (next < samples.length) {
      const s = samples[next++];
      out.set(s.id, await sampleTruth(s));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, samples.length) }, worker));
  return out;
}

function countsOf(ids: readonly string[], truth: Map<string, Truth>): PlanCounts {
  const c: PlanCounts = { images: 0, lesionImages: 0, lesions: 0, negatives: 0 };
  for (const id of ids) {
    const t = truth.get(id);
    if (!t) continue;
    c.images++;
    if (t.lesionImage) c.lesionImages++;
    else c.negatives++;
    c.lesions += t.lesions;
  }
  return c;
}

export interface PlanExtras {
  /** Review stores: images a reader has not finished, which the run leaves out. */
  waiting?: { unreviewed: number; halfReviewed: number };
}

/**
 * Why a set cannot train, in words a reader can act on; empty when it can. A review store (`waiting` given)
 * with no fully reviewed image says how many wait and that only fully reviewed images count.
 */
export function planProblems(plan: Omit<TrainingPlan, 'problems'>, reviewed?: number): string[] {
  const problems: string[] = [];
  const { train, val } = plan.split;
  if (plan.waiting && reviewed === 0) {
    const { unreviewed, halfReviewed } = plan.waiting;
    problems.push(
      `nothing in the review store is fully reviewed yet: ${unreviewed} image${unreviewed === 1 ? '' : 's'} unreviewed and ${halfReviewed} half-reviewed wait for a reader (only images whose every finding is decided, or that a reader marked lesion-free, count)`,
    );
  }
  if (plan.images === 0) {
    if (!problems.length) problems.push('the set holds no image');
    return problems;
  }
  if (train.lesionImages === 0) {
    problems.push(
      plan.lesionImages === 0
        ? `no image in the set has a lesion (${plan.images} lesion-free): a detector cannot learn what a lesion looks like from lesion-free images alone`
        : `no lesion image landed in the training part (${plan.lesionImages} in the whole set, all held out): add lesion images or change the seed`,
    );
  }
  if (train.images < MIN_TRAINING_IMAGES) problems.push(`the training part holds ${train.images} image${train.images === 1 ? '' : 's'}; a run needs at least ${MIN_TRAINING_IMAGES}`);
  if (val.images === 0) problems.push('the validation part is empty: the set is too small (or has too few groups) to hold images out for validation and calibration');
  return problems;
}

/**
 * The plan of a dataset split as given: counts of the images the split names (with a limit, those drawn),
 * the groups among them, and the problems. `training.adapt` calls this with its own split of the site.
 */
export async function trainingPlan(dataset: Dataset, split: Pick<Split, 'train' | 'val' | 'test'>, extras: PlanExtras = {}): Promise<TrainingPlan> {
  const used = new Set([...split.train, ...split.val, ...split.test]);
  const samples = dataset.samples.filter((s) => used.has(s.id));
  const truth = await truths(samples);
  const whole = countsOf([...used], truth);
  const groups = new Set(samples.map((s) => s.group ?? `id:${s.id}`)).size;
  const plan: Omit<TrainingPlan, 'problems'> = {
    ...whole,
    groups,
    split: { train: countsOf(split.train, truth), val: countsOf(split.val, truth), test: countsOf(split.test, truth) },
    ...(extras.waiting ? { waiting: extras.waiting } : {}),
  };
  // Review images are the samples not from a lesion-free folder.
  const reviewed = dataset.format === 'review' ? samples.filter((s) => !s.negative).length : undefined;
  return { ...plan, problems: planProblems(plan, reviewed) };
}

export interface PlanRequest {
  data: string;
  format: DatasetFormat;
  negatives?: readonly string[];
  limit?: number;
  seed: number;
}

/**
 * The dataset a run would open. A review store with nothing fully reviewed yet is a plan whose problem says
 * so, not an error: its lesion-free folders are still counted.
 */
async function openForPlan(req: PlanRequest, reviewed?: ReviewRead): Promise<Dataset> {
  try {
    return await openDataset(req.data, req.format, { negatives: req.negatives, reviewed });
  } catch (err) {
    if (req.format !== 'review' || !(err instanceof StudioError) || err.code !== 'NOT_FOUND' || err.subject !== req.data || !existsSync(req.data)) throw err;
    // The ids openDataset gives a lesion-free folder's images (formats.ts): they decide the split.
    return { root: req.data, format: 'review', samples: (req.negatives ?? []).flatMap((f) => listNegatives(f, `${basename(resolve(f))}/`)) };
  }
}

/** What `training.start` with these settings would train on: the same samples, split the same way. */
export async function planTraining(req: PlanRequest): Promise<TrainingPlan> {
  // The images a reader has not finished, which the run leaves out (datasets/review.ts's rule).
  const reviewed = req.format === 'review' ? reviewedDataset(req.data) : undefined;
  const dataset = await openForPlan(req, reviewed);
  const waiting = reviewed?.waiting;
  const byId = new Map(dataset.samples.map((s) => [s.id, s]));
  const chosen = runSampleIds(dataset.samples, req).map((id) => byId.get(id) as Sample);
  return trainingPlan(dataset, splitSamples(chosen, req.seed), { waiting });
}

/** Refuse a set that cannot train, with every reason (INVALID_PAYLOAD, subject `data`). */
export function refuseUntrainable(plan: Pick<TrainingPlan, 'problems'>, subject = 'data'): void {
  if (plan.problems.length) throw new StudioError('INVALID_PAYLOAD', `this set cannot train: ${plan.problems.join('; ')}`, subject);
}
