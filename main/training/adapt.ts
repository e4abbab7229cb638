/**
 * Adapting a model to a site (issue 24): fine-tune a base on the images the site's readers reviewed, then
 * score base and adapted on the site's own held-out sequences, and record both in the adapted model's card.
 *
 *  - The site's labels are the review store's, by the one rule of datasets/review.ts (fully reviewed images
 *    only; all-rejected and "no lesion" images as negatives).
 *  - The site is split by sequence (datasets/groups.ts), never frames of one video on both sides, at
 *    ADAPT_DEFAULTS.ratios: the test part is scored, never trained or calibrated on.
 *  - Lesion-free images of the base's own training share stay in the mix (negativeShare of the site's
 *    training images; the base's validation share calibrates the operating point), so the adapted model
 *    does not forget "nothing here"; the base's held-out lesion-free images measure whether it did.
 *  - A low learning rate and early stopping on the site's validation part keep the base's knowledge when
 *    the site has little to teach.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { AUGMENTATION_PRESETS, type AugmentationPreset, type SiteAdaptation, StudioError, TRAINING_DEFAULTS, type ValidRequest } from '../../preload/contract.ts';
import { readCard, writeCard } from '../detector/io.ts';
import { refuseUntrainable } from '../datasets/plan.ts';
import { planAdaptation } from './site.ts';
import { cardMetricsOf, evaluateModel, type FullReport } from '../evaluation/evaluate.ts';
import { MAX_FP_PER_NEGATIVE } from '../evaluation/metrics.ts';
import { portablePath } from '../settings.ts';
import { train, type TrainerHooks, type TrainResult } from './trainer.ts';
import { dataParallelThreads, type TrainOptions } from './options.ts';

export interface AdaptOptions extends ValidRequest<'training.adapt'> {
  /** Where the adapted model goes (`models/<name>`). */
  out: string;
  /** The base model's folder. */
  base: string;
  /** The review store file. */
  store: string;
  backend?: 'wasm' | 'cpu';
  workers?: number;
  studioVersion?: string;
}

export interface AdaptResult {
  out: string;
  site: SiteAdaptation;
  training: TrainResult;
}

export async function adaptModel(options: AdaptOptions, hooks: TrainerHooks): Promise<AdaptResult> {
  const log = hooks.log ?? (() => {});
  const baseCard = readCard(options.base);
  const planned = await planAdaptation(options, log);
  const { plan, split, rules, trainNegatives, valNegatives, forgetting } = planned;
  const negatives = planned.negativeFolders;
  const siteSplit = planned.site;
  refuseUntrainable(plan, 'store');
  const counts = plan.split;
  log(`site: ${plan.images} reviewed images in ${plan.groups} sequences (grouped by ${rules.join(', ')}); train ${counts.train.images} (+${trainNegatives.length} of ${baseCard.name}'s lesion-free images), val ${counts.val.images} (+${valNegatives.length}), test ${counts.test.images}`);

  const h = (baseCard.hyperparameters ?? {}) as { augmentationPreset?: string; attentionSupervision?: { weight: number } };
  const trainOptions: TrainOptions = {
    name: options.name,
    data: options.store,
    format: 'review',
    variant: baseCard.variant,
    epochs: options.epochs,
    batchSize: TRAINING_DEFAULTS.batchSize,
    inputSize: options.inputSize ?? baseCard.inputSize,
    learningRate: options.learningRate,
    seed: options.seed,
    negatives,
    base: options.base,
    out: options.out,
    split,
    patience: options.patience,
    // The base's own treatment of the images (its augmentation, its gate supervision) carries over: an
    // adaptation changes what the model has seen, not how it learns.
    augmentation: (AUGMENTATION_PRESETS as readonly string[]).includes(h.augmentationPreset ?? '') ? (h.augmentationPreset as AugmentationPreset) : 'standard',
    attentionWeight: h.attentionSupervision?.weight ?? TRAINING_DEFAULTS.attentionWeight,
    workers: options.workers ?? dataParallelThreads(TRAINING_DEFAULTS.batchSize),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.studioVersion ? { studioVersion: options.studioVersion } : {}),
  };
  // An adaptation always starts afresh from its base: an interrupted one's checkpoint was trained on the
  // store as it was then, whose split by sequence may differ now (the trainer would refuse it anyway).
  for (const stale of ['checkpoint', '.checkpoint-old']) rmSync(join(options.out, stale), { recursive: true, force: true });
  const training = await train(trainOptions, hooks);

  const last = training.history[training.history.length - 1];
  const say = (message: string) =>
    hooks.progress({ name: options.name, state: 'running', epoch: training.epochs, epochs: options.epochs, step: 0, steps: 0, loss: last?.loss ?? NaN, valDice: last?.valDice, valSensitivity1FP: last?.valSensitivity1FP, imagesPerSec: 0, etaSec: NaN, history: training.history, message });
  const score = async (who: string, dir: string, ids: string[], what: string): Promise<FullReport> => {
    say(`scoring ${who} on ${what}`);
    if ((await hooks.gate()) === 'cancel') throw new StudioError('CANCELLED', `adapting ${options.name} cancelled`);
    // Pause and cancel reach into the scoring too (a few hundred images take a minute on two cores), and
    // the count moves in the run's message.
    let shown = 0;
    const onProgress = (done: number, total: number) => {
      if (done - shown >= 10 || done === total) say(`scoring ${who} on ${what}: ${(shown = done)}/${total}`);
    };
    return evaluateModel(who, { modelDir: dir, data: options.store, format: 'review', negatives, ids, split: 'test', onProgress, gate: hooks.gate });
  };
  const what = `the site's ${siteSplit.test.length} held-out images`;
  let baseReport: FullReport;
  let adaptedReport: FullReport;
  let forgot: SiteAdaptation['forgetting'];
  try {
    baseReport = await score(baseCard.name, options.base, siteSplit.test, what);
    adaptedReport = await score(options.name, options.out, siteSplit.test, what);
    if (forgetting.length) {
      const w = `${forgetting.length} held-out lesion-free images of ${baseCard.name}`;
      const b = await score(baseCard.name, options.base, forgetting, w);
      const a = await score(options.name, options.out, forgetting, w);
      forgot = { images: forgetting.length, base: b.fpPerNegativeImage ?? null, adapted: a.fpPerNegativeImage ?? null };
    }
  } catch (err) {
    // An adapted model never judged against its base is not one to keep: the viewer would list it like any
    // other model, with nothing saying whether it is better here. Adapting again starts afresh.
    rmSync(options.out, { recursive: true, force: true });
    throw err;
  }

  const verdict = judge(baseCard.name, baseReport, adaptedReport, forgot);
  const siteRecord: SiteAdaptation = {
    store: portablePath(options.store),
    storeHash: planned.labels.hash,
    base: baseCard.name,
    reviewers: planned.labels.reviewers,
    groupedBy: rules,
    groups: plan.groups,
    counts,
    baseNegatives: trainNegatives.length,
    epochsRun: training.epochs,
    bestEpoch: training.bestEpoch ?? training.epochs,
    evaluation: { base: cardMetricsOf(baseReport), adapted: cardMetricsOf(adaptedReport) },
    ...(forgot ? { forgetting: forgot } : {}),
    better: verdict.better,
    verdict: verdict.text,
  };
  const card = readCard(options.out);
  writeCard(options.out, { ...card, metrics: { ...(card.metrics ?? {}), test: cardMetricsOf(adaptedReport) }, site: siteRecord });
  log(verdict.text);
  return { out: options.out, site: siteRecord, training };
}

/**
 * Better on the site, by what a reader would notice: higher Dice, no lost sensitivity at 1 FP/image (beyond
 * one lesion's worth on this test set), and no louder on lesion-free images, on the site's test images and
 * on the base's own held-out ones. "No louder" is: no more findings per image than the base (beyond one
 * finding's worth), or within the budget every shipped operating point is calibrated to
 * (MAX_FP_PER_NEGATIVE): a base quieter than the budget on one test set is not a bar the adapted model must
 * clear to the finding, when both were calibrated to the same budget.
 */
export function judge(baseName: string, base: FullReport, adapted: FullReport, forgot: SiteAdaptation['forgetting']): { better: boolean; text: string } {
  const lesionSlack = 1 / Math.max(1, base.lesions ?? 1);
  const reasons: string[] = [];
  const fails: string[] = [];
  const cmp = (name: string, b: number, a: number, ok: boolean) => (ok ? reasons : fails).push(`${name} ${b.toFixed(3)} → ${a.toFixed(3)}`);
  const quiet = (b: number, a: number, images: number) => a <= b + 1 / Math.max(1, images) || a <= MAX_FP_PER_NEGATIVE + 1e-9;
  cmp('Dice', base.dice, adapted.dice, adapted.dice > base.dice);
  cmp('sensitivity at 1 FP/image', base.sensitivity1FP, adapted.sensitivity1FP, adapted.sensitivity1FP >= base.sensitivity1FP - lesionSlack);
  if (base.fpPerNegativeImage != null && adapted.fpPerNegativeImage != null) {
    cmp('findings per lesion-free site image', base.fpPerNegativeImage, adapted.fpPerNegativeImage, quiet(base.fpPerNegativeImage, adapted.fpPerNegativeImage, base.negatives ?? 1));
  }
  if (forgot && forgot.base != null && forgot.adapted != null) {
    cmp(`findings per held-out lesion-free image of ${baseName}`, forgot.base, forgot.adapted, quiet(forgot.base, forgot.adapted, forgot.images));
  }
  const better = fails.length === 0;
  if (base.fpPerNegativeImage == null && !forgot) reasons.push('false positives on lesion-free images not measured: the site held none out and the base has no lesion-free images of its own');
  const text = better
    ? `better than ${baseName} on this site's held-out images (${reasons.join('; ')}): use it here`
    : `not better than ${baseName} on this site's held-out images (${fails.join('; ')}${reasons.length ? `; ${reasons.join('; ')}` : ''}): keep using ${baseName}`;
  return { better, text };
}
