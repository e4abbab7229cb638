/**
 * How an adaptation reads a site (main/training/adapt.ts), without TensorFlow.js so the services' main thread
 * can plan one: the site's reviewed images split by sequence at ADAPT_DEFAULTS.ratios, and lesion-free
 * images of the base's own split mixed in (its training share into training, its validation share into
 * validation, its test share kept aside to measure what the adaptation forgot).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ADAPT_DEFAULTS, StudioError, type TrainingPlan } from '../../preload/contract.ts';
import { readCard } from '../detector/io.ts';
import { completeSplit, limitSamples, openDataset, readStoredSplit, reviewedDataset, splitSamples, type Dataset, type ReviewedItem, type Split } from '../datasets/index.ts';
import { type GroupRule, ruleOf } from '../datasets/groups.ts';
import { trainingPlan } from '../datasets/plan.ts';
import { resolveProjectPath } from '../settings.ts';

/** Base lesion-free images scored for forgetting: enough to see 0.05 findings per image move, bounded in time. */
export const MAX_FORGETTING_IMAGES = 200;
/** Base lesion-free images in the adaptation's validation part, for calibrating its operating point. */
export const MAX_VALIDATION_NEGATIVES = 150;

/** What adapting `base` to a review store would use: the site split by sequence, the base's lesion-free images mixed in, and the plan. */
export interface SitePlan {
  plan: TrainingPlan;
  /** The run's split: the site's parts with the base's lesion-free images added to train and validation. */
  split: Split;
  /** The site's own parts (what is scored). */
  site: Split;
  /** The rules that grouped the site's frames into sequences. */
  rules: GroupRule[];
  trainNegatives: string[];
  valNegatives: string[];
  /** The base's held-out lesion-free images, for measuring what the adaptation forgot. */
  forgetting: string[];
  negativeFolders: string[];
  /** What the site's readers had decided when the plan was read: a digest of the labels, and who decided. */
  labels: { hash: string; reviewers: string[] };
}

/**
 * The one reading of a site for an adaptation, shared by `training.plan` (the panel's counts before a run),
 * the manager's refusal and the run itself. Problems: the training plan's (datasets/plan.ts), and a test
 * part without a lesion image (nothing to tell base and adapted apart on).
 */
export async function planAdaptation(options: { store: string; base: string; seed: number; negatives?: readonly string[] }, log: (line: string) => void = () => {}): Promise<SitePlan> {
  const baseCard = readCard(options.base);
  const negativeFolders = lesionFreeFolders(options.negatives, baseCard.data?.negativeFolders, log);
  const reviewed = reviewedDataset(options.store);
  const { waiting } = reviewed;
  let dataset: Dataset;
  try {
    dataset = await openDataset(options.store, 'review', { negatives: negativeFolders, reviewed });
  } catch (err) {
    if (!(err instanceof StudioError) || err.code !== 'NOT_FOUND' || err.subject !== options.store) throw err;
    // Nothing fully reviewed yet: a plan whose problem says so (planProblems), not an error.
    dataset = { root: options.store, format: 'review', samples: [] };
  }
  const site = dataset.samples.filter((s) => !s.negative);
  const siteSplit = splitSamples(site, options.seed, [...ADAPT_DEFAULTS.ratios]);
  const baseNegatives = dataset.samples.filter((s) => s.negative);
  const stored = readStoredSplit(options.base);
  const baseSplit = baseNegatives.length ? completeSplit(stored ?? { seed: 42, ratios: [0.7, 0.15, 0.15], train: [], val: [], test: [] }, baseNegatives) : undefined;
  const partOf = (part: 'train' | 'val' | 'test') => {
    const ids = new Set(baseSplit?.[part] ?? []);
    return baseNegatives.filter((s) => ids.has(s.id));
  };
  const trainNegatives = limitSamples(partOf('train'), Math.round(ADAPT_DEFAULTS.negativeShare * siteSplit.train.length), options.seed);
  // Validation takes the base's whole validation share of lesion-free images (up to a bound): the operating
  // point is calibrated to at most 0.1 findings per lesion-free image on them, and a few dozen cannot tell
  // 0.1 from 0.2; the site's own lesion-free frames are rarely many.
  const valNegatives = limitSamples(partOf('val'), MAX_VALIDATION_NEGATIVES, options.seed);
  // Without the base's own split there is no telling which lesion-free images it held out: scoring it on
  // some it trained on would make it look quieter than it is, so forgetting goes unmeasured (and the
  // verdict says so).
  const forgetting = stored ? limitSamples(partOf('test'), MAX_FORGETTING_IMAGES, options.seed) : [];
  const plan = await trainingPlan({ ...dataset, samples: site }, siteSplit, { waiting });
  if (plan.images > 0 && plan.split.test.lesionImages === 0) plan.problems.push(`no lesion image left in the held-out part (${plan.split.test.images} images from the site's sequences): review more sequences, so base and adapted can be told apart on the site`);
  return {
    plan,
    split: { seed: options.seed, ratios: [...ADAPT_DEFAULTS.ratios], train: [...siteSplit.train, ...trainNegatives], val: [...siteSplit.val, ...valNegatives], test: siteSplit.test },
    site: siteSplit,
    rules: [...new Set(site.map((s) => ruleOf(s.group)))].sort(),
    trainNegatives,
    valNegatives,
    forgetting,
    negativeFolders,
    labels: { hash: labelsHash(reviewed.items), reviewers: reviewed.reviewers },
  };
}

/** A digest of the labels read: the same reviewed store gives the same hash, any decision changes it. */
function labelsHash(items: readonly ReviewedItem[]): string {
  const labels = items.map((i) => ({ path: i.path, boxes: i.boxes, masks: i.masks ?? null, pending: i.pending }));
  labels.sort((a, b) => a.path.localeCompare(b.path));
  return createHash('sha256').update(JSON.stringify(labels)).digest('hex');
}

/** The lesion-free folders kept in the mix: the request's, else the base's own that still exist here. */
function lesionFreeFolders(given: readonly string[] | undefined, baseFolders: readonly string[] | undefined, log: (line: string) => void): string[] {
  if (given) return given.map((f) => resolve(f));
  const out: string[] = [];
  for (const f of baseFolders ?? []) {
    const at = resolveProjectPath(f);
    if (existsSync(at)) out.push(at);
    else log(`the base's lesion-free folder ${f} is not on this machine: adapting without it (the adapted model may forget what normal tissue looks like)`);
  }
  return out;
}
