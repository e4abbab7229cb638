/**
 * One training run, start to finish: dataset → seeded split → epochs of augmented mini-batches →
 * validation (Dice, sensitivity at 1 FP/image) → checkpoint each epoch → final model + card + split.
 *
 * Runs wherever it is called (the training worker, or a test); it reports through `hooks` and honours
 * pause/cancel between steps. A run whose output folder holds a checkpoint with the same settings resumes
 * from it, so a killed process (even kill -9) loses at most the epoch in flight.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type AugmentationPreset, describeAugmentation, hasSpatialGates, type IntendedUse, StudioError, type TrainingProgress } from '../../preload/contract.ts';
import { atInputSize, buildModel, DECODER_GATE, withDecoderGate } from '../detector/model.ts';
import { checkCard, loadModel, readCard, saveModel, type ModelCard } from '../detector/io.ts';
import { FLIP_SETS, type FlipSet } from '../detector/flips.ts';
import { predictLesionMaps } from '../detector/pipeline.ts';
import { TfjsDetector } from '../detector/tfjs-detector.ts';
import { canFitAppearance, fitModelAppearance } from './appearance.ts';
import { connectedComponents } from '../evaluation/components.ts';
import { imageCandidatesAt, upsample } from '../evaluation/maps.ts';
import { bestThreshold, fpPerNegative, froc, operatingThreshold, overlap, sensitivityAt, THRESHOLDS } from '../evaluation/metrics.ts';
import { openDataset, rng, SampleCache, shuffle, splitSamples, validRegion, type Sample, type Split } from '../datasets/index.ts';
import { runSampleIds } from '../datasets/plan.ts';
import { augment, downsampleMask } from './data.ts';
import { DEFAULT_ATTENTION_WEIGHT, detectorObjective, supervisedGate } from './objective.ts';
import { useBackend } from '../detector/kernels/backend.ts';
import { trainingKernels } from '../detector/kernels/index.ts';
import { GradientPool } from './parallel.ts';
import type { TrainOptions } from './options.ts';
import { portablePath, resolveProjectPath } from '../settings.ts';

export type { TrainOptions };

export type TrainerEvent = Omit<TrainingProgress, 'runId'>;

export interface TrainerHooks {
  progress(p: TrainerEvent): void;
  /** Resolves when the run may go on; rejects (or returns 'cancel') to stop. Checked between steps. */
  gate(): Promise<'go' | 'cancel'>;
  log?(line: string): void;
}

export interface TrainResult {
  out: string;
  epochs: number;
  history: TrainingProgress['history'];
  seconds: number;
  backend: string;
  resumedFrom?: number;
  /** With `patience`: the epoch whose weights the model kept, and whether the run stopped before its last epoch. */
  bestEpoch?: number;
  stoppedEarly?: boolean;
}

const CHECKPOINT = 'checkpoint';
const STATE_FILE = 'state.json';

interface CheckpointState {
  version: 1;
  options: Omit<TrainOptions, 'out' | 'epochs' | 'backend' | 'studioVersion' | 'validate' | 'split' | 'patience'> & { givenSplit?: string };
  epoch: number;
  history: TrainingProgress['history'];
  seconds: number;
  split: Split;
  /** The base model's own training history, read when the run started (see baseTraining). */
  baseTraining?: Record<string, unknown>;
}

function comparable(o: TrainOptions): CheckpointState['options'] {
  const { name, data, format, variant, batchSize, inputSize, learningRate, seed, limit, base } = o;
  // Lesion-free folders change the split: a run restarted with others must not resume the old one.
  const negatives = o.negatives?.length ? o.negatives.map((n) => resolve(n)).sort() : undefined;
  // A split the caller gave (an adaptation's, from the store as it is now): a checkpoint trained on another
  // must not resume, or the run would be scored on images it trained on.
  const split = o.split ? createHash('sha256').update(JSON.stringify([o.split.train, o.split.val, o.split.test])).digest('hex').slice(0, 16) : undefined;
  return { name, data: resolve(data), format, variant, batchSize, inputSize, learningRate, seed, limit, base: base ? resolve(base) : undefined, attentionWeight: attentionWeightOf(o), augmentation: augmentationOf(o), negatives, ...(split ? { givenSplit: split } : {}) };
}

/** The gate supervision a run actually gets: none for variants without a spatial gate. */
function attentionWeightOf(o: TrainOptions): number {
  return hasSpatialGates(o.variant) ? (o.attentionWeight ?? DEFAULT_ATTENTION_WEIGHT) : 0;
}

/** The augmentation a run actually gets. */
function augmentationOf(o: TrainOptions): AugmentationPreset {
  return o.augmentation ?? 'standard';
}

/** The settings in which a checkpoint differs from this run's; checkpoints from before attention supervision were unsupervised, and from before presets used the standard augmentation. */
export function differingSettings(saved: CheckpointState['options'], now: CheckpointState['options']): string[] {
  const old = { ...saved, attentionWeight: saved.attentionWeight ?? 0, augmentation: saved.augmentation ?? 'standard' } as Record<string, unknown>;
  const cur = { ...now, augmentation: now.augmentation ?? 'standard' } as Record<string, unknown>;
  return [...new Set([...Object.keys(old), ...Object.keys(cur)])].filter((k) => JSON.stringify(old[k]) !== JSON.stringify(cur[k]));
}

/** Write the checkpoint into a temp folder, then swap it in with renames: a kill never leaves half a checkpoint. */
async function writeCheckpoint(out: string, model: tf.LayersModel, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  const final = join(out, CHECKPOINT);
  const tmp = join(out, `.${CHECKPOINT}-tmp`);
  const old = join(out, `.${CHECKPOINT}-old`);
  rmSync(tmp, { recursive: true, force: true });
  await saveModel(model, tmp);
  const weights = await optimizer.getWeights();
  const specs = weights.map((w) => ({ name: w.name, shape: w.tensor.shape }));
  const arrays = await Promise.all(weights.map((w) => w.tensor.data() as Promise<Float32Array>));
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    flat.set(a, offset);
    offset += a.length;
  }
  writeFileSync(join(tmp, 'optimizer.bin'), new Uint8Array(flat.buffer));
  writeFileSync(join(tmp, 'optimizer.json'), JSON.stringify(specs));
  writeFileSync(join(tmp, STATE_FILE), JSON.stringify(state));
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

function findCheckpoint(out: string): string | undefined {
  for (const dir of [join(out, CHECKPOINT), join(out, `.${CHECKPOINT}-old`)]) if (existsSync(join(dir, STATE_FILE))) return dir;
  return undefined;
}

async function restoreOptimizer(dir: string, optimizer: tf.Optimizer): Promise<void> {
  const specs = JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8')) as { name: string; shape: number[] }[];
  const buf = readFileSync(join(dir, 'optimizer.bin'));
  const flat = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let offset = 0;
  const named = specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(flat.subarray(offset, offset + n), s.shape);
    offset += n;
    return { name: s.name, tensor: t };
  });
  await optimizer.setWeights(named);
}

/** Cosine decay to 5% of the base rate over the run, after a one-epoch-equivalent linear warm-up. */
function learningRateAt(base: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return (base * (step + 1)) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

export interface Validation {
  /** Mean Dice at `threshold`, the candidate threshold that scores best on this validation split. */
  dice: number;
  threshold: number;
  /** The candidate-lesion threshold with the best sensitivity at 1 FP/image on this split. */
  candidateThreshold: number;
  sensitivity1FP: number;
}

export async function validate(model: tf.LayersModel, cache: SampleCache, ids: string[], flips: FlipSet = 'none'): Promise<Validation> {
  if (ids.length === 0) return { dice: 0, threshold: 0.5, candidateThreshold: 0.5, sensitivity1FP: 0 };
  const size = cache.size;
  const decoded = await Promise.all(ids.map((id) => cache.get(id)));
  // The model is still training: run it as it is (unfolded), lesion map only, and leave its weights alone.
  const backend = new TfjsDetector(model, { fold: false, outputs: 'lesion', owns: false });
  const maps = await predictLesionMaps(backend, decoded.map((d) => d.image), { batch: 8, flips });
  const diceAt: Record<string, number> = Object.fromEntries(THRESHOLDS.map((t) => [t.toFixed(2), 0]));
  const gts = decoded.map((d) => connectedComponents(d.mask, size, size, 0.5, 10));
  // Dice over the images with a lesion, as evaluation reports it: lesion-free ones are scored by their false positives.
  const lesionImage = decoded.map((d) => d.mask.some((v) => v > 0));
  const withLesion = lesionImage.filter(Boolean).length;
  decoded.forEach((d, i) => {
    if (!lesionImage[i]) return;
    const full = upsample(maps[i], size / 4, size / 4, size, size);
    const valid = validRegion(d.box);
    for (const t of THRESHOLDS) diceAt[t.toFixed(2)] += overlap(full, d.mask, t, valid).dice / withLesion;
  });
  const sensAt: Record<string, number> = {};
  const fpNegAt: Record<string, number> = {};
  const candidates = gts.map((_, i) => imageCandidatesAt(maps[i], size / 4, decoded[i].box, THRESHOLDS));
  for (const [k, t] of THRESHOLDS.entries()) {
    const images = gts.map((gt, i) => ({ gt, predictions: candidates[i][k] }));
    sensAt[t.toFixed(2)] = sensitivityAt(froc(images), 1);
    fpNegAt[t.toFixed(2)] = fpPerNegative(images.map((im) => im.predictions.length), lesionImage);
  }
  const threshold = bestThreshold(diceAt);
  // The operating point, by the rule evaluation's --calibrate uses: quiet on lesion-free images where it can be.
  const candidateThreshold = operatingThreshold(sensAt, lesionImage.every(Boolean) ? undefined : fpNegAt);
  return { dice: diceAt[threshold.toFixed(2)], threshold, candidateThreshold, sensitivity1FP: sensAt[candidateThreshold.toFixed(2)] };
}

/**
 * The test-time flips the finished model runs with: the set with the best validation Dice (`last` is the
 * final epoch's validation without flips), and the thresholds calibrated with it.
 */
export async function chooseFlips(model: tf.LayersModel, cache: SampleCache, ids: string[], last: Validation): Promise<{ flips: FlipSet; validation: Validation; diceByFlips: Record<FlipSet, number> }> {
  const byFlips = { none: last } as Record<FlipSet, Validation>;
  for (const f of FLIP_SETS) if (f !== 'none') byFlips[f] = await validate(model, cache, ids, f);
  // Fewer passes win a tie: they cost less.
  const flips = FLIP_SETS.reduce((best, f) => (byFlips[f].dice > byFlips[best].dice ? f : best), 'none' as FlipSet);
  const diceByFlips = Object.fromEntries(FLIP_SETS.map((f) => [f, byFlips[f].dice])) as Record<FlipSet, number>;
  return { flips, validation: byFlips[flips], diceByFlips };
}

/**
 * Keras' BN momentum 0.99 needs thousands of steps for its moving statistics to settle; a short run on a
 * small dataset would then infer with stale statistics. 0.9 settles within ~50 steps.
 */
export function settleBatchNormQuickly(model: tf.LayersModel): void {
  for (const layer of model.layers) if (layer.getClassName() === 'BatchNormalization') (layer as unknown as { momentum: number }).momentum = 0.9;
}

/**
 * What the base model of a fine-tune had been through, read when the run starts (the base may be replaced
 * by the time it ends), so a card tells the whole training history. Older cards name their own base
 * without its story: that is read too while it is still there. An unreadable ancestor ends the story
 * with `unknown` instead of failing the run; a chain that loops or runs deeper than 16 is cut.
 */
export function baseTraining(dir: string, seen = new Set<string>()): Record<string, unknown> {
  const at = resolve(dir);
  if (seen.has(at) || seen.size >= 16) return { unknown: `lineage cut at ${portablePath(at)}` };
  seen.add(at);
  let card: ModelCard & { training?: { epochs?: number; seconds?: number }; hyperparameters?: Record<string, unknown> };
  try {
    card = readCard(at) as typeof card;
  } catch (err) {
    return { unknown: `${portablePath(at)}: ${(err as Error).message}` };
  }
  const h = card.hyperparameters ?? {};
  const base = typeof h.base === 'string' ? h.base : undefined;
  const before = base ? (h.baseTraining ?? (existsSync(join(resolveProjectPath(base), 'card.json')) ? baseTraining(resolveProjectPath(base), seen) : undefined)) : undefined;
  return {
    name: card.name,
    inputSize: card.inputSize,
    epochs: card.training?.epochs,
    seconds: card.training?.seconds,
    learningRate: h.learningRate,
    loss: h.loss,
    ...(h.attentionSupervision ? { attentionSupervision: h.attentionSupervision } : {}),
    ...(typeof h.augmentationPreset === 'string' ? { augmentation: h.augmentationPreset } : {}),
    ...(base ? { base, ...(before ? { baseTraining: before } : {}) } : {}),
  };
}

/** Where a run starts: its checkpoint's state when resuming, else a fresh model or a fine-tune of the base. */
interface RunStart {
  model: tf.LayersModel;
  startEpoch: number;
  history: TrainingProgress['history'];
  seconds: number;
  split: Split;
  resumedFrom?: number;
  /** The base models' training record, which the checkpoint keeps so a resumed run's card still has it. */
  lineage?: Record<string, unknown>;
}

/**
 * Resume when a checkpoint with the same settings exists; a checkpoint of other settings is an error, not
 * something to silently overwrite. Otherwise split the data and build the model (or take the base's).
 */
async function startOrResume(options: TrainOptions, out: string, samples: Sample[], optimizer: tf.Optimizer, log: (line: string) => void): Promise<RunStart> {
  const ckpt = findCheckpoint(out);
  if (ckpt) {
    const state = JSON.parse(readFileSync(join(ckpt, STATE_FILE), 'utf8')) as CheckpointState;
    const differ = differingSettings(state.options, comparable(options));
    if (differ.length) {
      throw new StudioError('BUSY', `${out} holds a checkpoint of a run with different settings (${differ.join(', ')}); pick another --out or delete ${ckpt}`, out);
    }
    const model = await loadModel(ckpt);
    await restoreOptimizer(ckpt, optimizer);
    log(`resuming ${options.name} from its epoch-${state.epoch} checkpoint`);
    return { model, startEpoch: state.epoch, history: state.history, seconds: state.seconds, split: state.split, resumedFrom: state.epoch, lineage: state.baseTraining };
  }
  const split = options.split ?? splitSamples(samples, options.seed);
  if (!options.base) return { model: buildModel({ variant: options.variant, inputSize: options.inputSize }), startEpoch: 0, history: [], seconds: 0, split };
  return { ...(await fineTuneBase(options.base, options, log)), startEpoch: 0, history: [], seconds: 0, split };
}

/**
 * The base model as this run's starting point: checked to be the same variant, given the decoder gate if
 * it predates it (as the identity, so it starts as the base's own function), rebuilt at this run's input size.
 */
async function fineTuneBase(baseDir: string, options: TrainOptions, log: (line: string) => void): Promise<{ model: tf.LayersModel; lineage: Record<string, unknown> }> {
  const S = options.inputSize;
  const card = readCard(baseDir);
  if (card.variant !== options.variant) {
    throw new StudioError('INVALID_PAYLOAD', `base model is ${card.variant}; this run is ${options.variant}`, 'baseModel');
  }
  const loaded = await loadModel(baseDir);
  let base: tf.LayersModel;
  try {
    base = withDecoderGate(loaded);
  } catch (e) {
    loaded.dispose();
    throw e;
  }
  const gainedGate = base !== loaded;
  if (gainedGate) loaded.dispose();
  if (gainedGate) log(`the base predates the decoder gate: fine-tuning adds one (it starts at 0.5 on every cell, with the conv it feeds doubled, so the model starts as exactly the base's function; every other layer keeps the base's weights)`);
  let model: tf.LayersModel;
  if (card.inputSize === S) model = base;
  else {
    try {
      model = atInputSize(base, S);
    } finally {
      base.dispose();
    }
    log(`fine-tuning at ${S}px from a base trained at ${card.inputSize}px (the network is fully convolutional)`);
  }
  let lineage = baseTraining(baseDir);
  // Worded from the base's side, so it stays true when this card's lineage nests under a later run's.
  if (gainedGate) lineage = { ...lineage, architecture: `no decoder gate; the run fine-tuned from this model added ${DECODER_GATE}, starting as the base's own function (the gate 0.5 on every cell, the conv it feeds doubled)` };
  return { model, lineage };
}

type FlipChoice = Awaited<ReturnType<typeof chooseFlips>>;

/**
 * The test-time flips the finished model runs with, and the thresholds calibrated with them, chosen on the
 * validation split (none when validation is off).
 */
async function calibrate(model: tf.LayersModel, cache: SampleCache, valIds: string[], last: Validation | undefined, enabled: boolean, log: (line: string) => void, announce: () => void): Promise<FlipChoice | undefined> {
  if (!enabled) return undefined;
  // A run killed after its last checkpoint resumes with no epoch left to run: validate it here, so its
  // card still gets its flips and calibrated thresholds.
  const validation = last ?? (await validate(model, cache, valIds));
  log('choosing test-time flips on the validation split (none, h, hv)');
  announce();
  const choice = await chooseFlips(model, cache, valIds, validation);
  const d = choice.diceByFlips;
  log(`test-time flips ${choice.flips}: validation Dice none ${d.none.toFixed(3)}, h ${d.h.toFixed(3)}, hv ${d.hv.toFixed(3)}`);
  return choice;
}

/** What a finished run's card records: its data and split, how it was trained, its calibration and history. */
function cardOf(
  options: TrainOptions,
  run: {
    backend: string;
    images: number;
    /** Declared lesion-free images among them (negatives folders). */
    negatives: number;
    split: Split;
    flipChoice?: FlipChoice;
    supervised?: string;
    attentionWeight: number;
    augmentation: AugmentationPreset;
    lineage?: Record<string, unknown>;
    threads?: number;
    history: TrainingProgress['history'];
    seconds: number;
    resumedFrom?: number;
    intendedUse?: IntendedUse;
  },
): ModelCard {
  const { backend, split, flipChoice, supervised, attentionWeight, augmentation, lineage, history, seconds, resumedFrom } = run;
  return {
    name: options.name,
    variant: options.variant,
    inputSize: options.inputSize,
    studioVersion: options.studioVersion,
    createdAt: new Date().toISOString(),
    backend,
    kernels: trainingKernels(backend),
    ...(flipChoice
      ? {
          threshold: flipChoice.validation.threshold,
          candidateThreshold: flipChoice.validation.candidateThreshold,
          flips: flipChoice.flips,
          calibration: { split: 'val', flips: flipChoice.flips, diceByFlips: flipChoice.diceByFlips },
        }
      : {}),
    data: {
      path: portablePath(options.data),
      format: options.format,
      images: run.images,
      ...(run.negatives ? { negatives: run.negatives, negativeFolders: (options.negatives ?? []).map(portablePath) } : {}),
      ...(options.limit ? { limit: options.limit } : {}),
    },
    split: { file: 'split.json', seed: split.seed, ratios: split.ratios, train: split.train.length, val: split.val.length, test: split.test.length },
    hyperparameters: {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      schedule: 'linear warm-up then cosine to 5%',
      optimizer: 'adam',
      loss: `focal (alpha 0.75, gamma 2) x10 + soft Dice on the S/4 lesion map${supervised ? ` + ${attentionWeight} x (BCE + pointing cross-entropy) of the ${supervised} gate against the mask at its resolution` : ''}`,
      ...(supervised ? { attentionSupervision: { layer: supervised, weight: attentionWeight } } : {}),
      augmentation: describeAugmentation(augmentation),
      augmentationPreset: augmentation,
      seed: options.seed,
      ...(options.base ? { base: portablePath(options.base), ...(lineage ? { baseTraining: lineage } : {}) } : {}),
      ...(run.threads ? { dataParallelThreads: run.threads } : {}),
    },
    training: { epochs: history.length, seconds: Math.round(seconds), history, ...(resumedFrom !== undefined ? { resumedFrom } : {}) },
    preprocessing: "RGB in [0,1], the detector's letterbox: long side fit to inputSize, image top-left, zero padding",
    // A fine-tune is for what its base was for (the engine's wrong-input guard reads this).
    ...(run.intendedUse ? { intendedUse: run.intendedUse } : {}),
    notes:
      'valDice: mean per-image Dice at the validation-calibrated map threshold (card.threshold); valSensitivity1FP: at the validation-calibrated candidate threshold (card.candidateThreshold). ' +
      'flips: the mirror images each prediction averages (none, h: left–right, hv: all four), chosen by validation Dice after the last epoch (calibration.diceByFlips), the thresholds calibrated with them; the training history is without flips.',
  };
}

/**
 * Early stopping: the validation score (mean of Dice and sensitivity at 1 FP/image, the two figures a
 * reader feels) of each epoch, and a copy of the weights of the best one. `after` says when `patience`
 * epochs have passed without a better one. A resumed run tracks its best from where it resumed.
 */
class BestEpoch {
  epoch = 0;
  private lastEpoch = 0;
  private score = -Infinity;
  private weights: tf.Tensor[] | null = null;
  constructor(private readonly patience: number) {}

  after(model: tf.LayersModel, epoch: number, v: Validation): boolean {
    const score = (v.dice + v.sensitivity1FP) / 2;
    this.lastEpoch = epoch;
    if (score > this.score) {
      this.score = score;
      this.epoch = epoch;
      this.dispose();
      // Every weight, BatchNorm's moving statistics included: they are part of what the epoch learned.
      this.weights = model.getWeights().map((w) => w.clone());
    }
    return epoch - this.epoch >= this.patience;
  }

  /** Puts the best epoch's weights back; true when they differ from the last epoch's. */
  restore(model: tf.LayersModel): boolean {
    if (!this.weights || this.epoch === this.lastEpoch) return false;
    model.setWeights(this.weights);
    return true;
  }

  dispose(): void {
    if (this.weights) tf.dispose(this.weights);
    this.weights = null;
  }
}

export async function train(options: TrainOptions, hooks: TrainerHooks): Promise<TrainResult> {
  const log = hooks.log ?? (() => {});
  const backend = await useBackend(options.backend);
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const S = options.inputSize;
  if (S % 16 !== 0) throw new StudioError('INVALID_PAYLOAD', `input size must be a multiple of 16 (got ${S})`, 'inputSize');

  const dataset = await openDataset(options.data, options.format, { negatives: options.negatives });
  const byId = new Map(dataset.samples.map((s) => [s.id, s]));
  // The samples training.plan counts (datasets/plan.ts): what the plan reports is what the run uses.
  const ids = runSampleIds(dataset.samples, options);

  const optimizer = tf.train.adam(options.learningRate);
  const { model, startEpoch, split, resumedFrom, lineage, ...start } = await startOrResume(options, out, ids.map((id) => byId.get(id) as Sample), optimizer, log);
  let { history, seconds } = start;
  settleBatchNormQuickly(model);
  if (split.train.length === 0) throw new StudioError('INVALID_PAYLOAD', 'the training split is empty: the dataset is too small', options.data);

  const cache = new SampleCache(byId, S);
  const attentionWeight = attentionWeightOf(options);
  const augmentation = augmentationOf(options);
  const supervised = attentionWeight > 0 ? supervisedGate(model) : undefined;
  const objective = detectorObjective(model, attentionWeight);
  const pool = (options.workers ?? 1) > 1 ? await GradientPool.create(model, options.workers as number, backend, attentionWeight) : null;
  const random = rng(options.seed + startEpoch * 7919);
  const stepsPerEpoch = Math.ceil(split.train.length / options.batchSize);
  const totalSteps = stepsPerEpoch * options.epochs;
  const warmup = Math.min(stepsPerEpoch, 50);
  const s4 = S / 4;
  const base = { name: options.name, epochs: options.epochs, steps: stepsPerEpoch };
  const emit = (p: Partial<TrainerEvent> & Pick<TrainerEvent, 'state'>) =>
    hooks.progress({ ...base, epoch: startEpoch, step: 0, loss: NaN, imagesPerSec: 0, etaSec: NaN, history, ...p });

  emit({ state: 'running', message: resumedFrom !== undefined ? `resumed from epoch ${resumedFrom}` : 'decoding images' });
  await cache.warm([...split.train, ...split.val], 4);

  let imagesDone = 0;
  let lastValidation: Validation | undefined;
  // Throughput counts only the time spent on steps (batch building included), not pauses or validation,
  // so a paused run shows the speed it trains at; the ETA adds the validations still to come, at the
  // duration of the last one.
  let stepSeconds = 0;
  let validationSeconds = 0;
  let rate = 0;
  const etaAfter = (remainingImages: number, validationsLeft: number) =>
    rate > 0 ? remainingImages / rate + (options.validate === false ? 0 : validationsLeft * validationSeconds) : NaN;
  const batchAt = async (order: string[], step: number): Promise<{ xs: Float32Array; ys: Float32Array; n: number }> => {
    const batchIds = order.slice(step * options.batchSize, (step + 1) * options.batchSize);
    const n = batchIds.length;
    const xs = new Float32Array(n * S * S * 3);
    const ys = new Float32Array(n * s4 * s4);
    for (let k = 0; k < n; k++) {
      const a = augment(await cache.get(batchIds[k]), random, true, augmentation);
      xs.set(a.image, k * S * S * 3);
      ys.set(downsampleMask(a.mask, S), k * s4 * s4);
    }
    return { xs, ys, n };
  };
  let prefetched: ReturnType<typeof batchAt> | undefined;
  const keeper = options.patience && options.validate !== false ? new BestEpoch(options.patience) : undefined;
  let epochsRun = options.epochs;
  try {
    for (let epoch = startEpoch; epoch < options.epochs; epoch++) {
      const order = shuffle(split.train, random);
      let lossSum = 0;
      let lossCount = 0;
      const epochStart = performance.now();
      for (let step = 0; step < stepsPerEpoch; step++) {
        if ((await hooks.gate()) === 'cancel') {
          // The catch below closes the helper threads.
          model.dispose();
          optimizer.dispose();
          throw new StudioError('CANCELLED', `training ${options.name} cancelled`);
        }
        const stepStart = performance.now();
        const { xs, ys, n } = await (prefetched ?? batchAt(order, step));
        prefetched = undefined;
        (optimizer as unknown as { learningRate: number }).learningRate = learningRateAt(options.learningRate, epoch * stepsPerEpoch + step, totalSteps, warmup);
        let loss: number;
        if (pool) {
          const pending = pool.step(model, optimizer, xs, ys, n, S);
          // This thread computes its share of the step inside pool.step, then builds the next batch while
          // it waits for the helper threads' shares. Batches are still built in order, so the random
          // stream, and so the run, is the same as without it.
          if (step + 1 < stepsPerEpoch) {
            prefetched = batchAt(order, step + 1);
            prefetched.catch(() => {}); // its error surfaces where it is awaited
          }
          loss = await pending;
        } else {
          const x = tf.tensor4d(xs, [n, S, S, 3]);
          const y = tf.tensor4d(ys, [n, s4, s4, 1]);
          const lossT = optimizer.minimize(() => objective(x, y), true) as tf.Scalar;
          loss = (await lossT.data())[0];
          tf.dispose([x, y, lossT]);
        }
        if (!Number.isFinite(loss)) throw new StudioError('INTERNAL', `loss became ${loss} at epoch ${epoch + 1} step ${step + 1}; try a lower learning rate`);
        lossSum += loss * n;
        lossCount += n;
        imagesDone += n;
        stepSeconds += (performance.now() - stepStart) / 1000;
        rate = imagesDone / Math.max(1e-3, stepSeconds);
        const remainingImages = (options.epochs - epoch - 1) * split.train.length + Math.max(0, split.train.length - (step + 1) * options.batchSize);
        emit({ state: 'running', epoch: epoch + 1, step: step + 1, loss: lossSum / lossCount, imagesPerSec: rate, etaSec: etaAfter(remainingImages, options.epochs - epoch) });
      }
      const validationStart = performance.now();
      const v = options.validate === false ? undefined : await validate(model, cache, split.val);
      validationSeconds = (performance.now() - validationStart) / 1000;
      if (v) lastValidation = v;
      history = [...history, { epoch: epoch + 1, loss: lossSum / Math.max(1, lossCount), ...(v ? { valDice: v.dice, valSensitivity1FP: v.sensitivity1FP } : {}) }];
      seconds += (performance.now() - epochStart) / 1000;
      await writeCheckpoint(out, model, optimizer, { version: 1, options: comparable(options), epoch: epoch + 1, history, seconds, split, ...(lineage ? { baseTraining: lineage } : {}) });
      const last = history[history.length - 1];
      log(`epoch ${epoch + 1}/${options.epochs} loss ${last.loss.toFixed(4)}${v ? ` val Dice ${v.dice.toFixed(3)} sens@1FP ${v.sensitivity1FP.toFixed(3)}` : ''} (${seconds.toFixed(0)} s)`);
      emit({ state: 'running', epoch: epoch + 1, step: stepsPerEpoch, loss: last.loss, valDice: last.valDice, valSensitivity1FP: last.valSensitivity1FP, imagesPerSec: rate, etaSec: etaAfter((options.epochs - epoch - 1) * split.train.length, options.epochs - epoch - 1) });
      if (keeper && v && keeper.after(model, epoch + 1, v) && epoch + 1 < options.epochs) {
        epochsRun = epoch + 1;
        log(`no better validation score for ${options.patience} epochs: stopping after epoch ${epochsRun}, keeping epoch ${keeper.epoch}`);
        break;
      }
    }
  } catch (err) {
    keeper?.dispose();
    // The helper threads would keep the process alive: a CLI run that failed must still exit.
    await pool?.close();
    throw err;
  }
  // The best epoch's weights, not the last one's: what the validation split preferred is what ships, and
  // what the flips and thresholds below are calibrated for.
  if (keeper?.restore(model)) lastValidation = undefined;
  keeper?.dispose();

  await pool?.close();
  const flipChoice = await calibrate(model, cache, split.val, lastValidation, options.validate !== false, log, () => {
    const last = history[history.length - 1];
    emit({ state: 'running', epoch: options.epochs, step: stepsPerEpoch, loss: last?.loss ?? NaN, valDice: last?.valDice, valSensitivity1FP: last?.valSensitivity1FP, imagesPerSec: rate, etaSec: NaN, message: 'choosing test-time flips on the validation split' });
  });
  // A given split may leave some of the data out (an adaptation takes a share of the base's negatives): count what the run used.
  const used = options.split ? [...split.train, ...split.val, ...split.test] : ids;
  const card = cardOf(options, { backend, images: used.length, negatives: used.filter((id) => byId.get(id)?.negative).length, split, flipChoice, supervised, attentionWeight, augmentation, lineage, threads: pool?.threads, history, seconds, resumedFrom, intendedUse: options.base ? checkCard(options.base)?.intendedUse : undefined });
  await saveModel(model, out, card);
  writeFileSync(join(out, 'split.json'), `${JSON.stringify(split, null, 1)}\n`);
  if (options.validate !== false && canFitAppearance(split)) {
    const last = history[history.length - 1];
    emit({ state: 'running', epoch: epochsRun, step: stepsPerEpoch, loss: last?.loss ?? NaN, valDice: last?.valDice, valSensitivity1FP: last?.valSensitivity1FP, imagesPerSec: rate, etaSec: NaN, message: 'fitting the appearance score on the training images' });
    // The network as the viewer runs it (BatchNorm folded).
    const detector = new TfjsDetector(model, { owns: false });
    try {
      const a = await fitModelAppearance(out, detector, cache, split);
      const own = a.byFlips[flipChoice?.flips ?? 'none'];
      log(`appearance score: fitted on ${a.fitImages} training images${own ? `; threshold ${own.threshold} (validation median ${own.heldOut.median})` : ''}`);
    } catch (err) {
      // A model without the score is still a model: its guard checks what images declare, as before.
      log(`appearance score not fitted: ${(err as Error).message}`);
    } finally {
      detector.dispose();
    }
  }
  rmSync(join(out, CHECKPOINT), { recursive: true, force: true });
  rmSync(join(out, `.${CHECKPOINT}-old`), { recursive: true, force: true });
  model.dispose();
  optimizer.dispose();
  emit({ state: 'finished', epoch: epochsRun, step: stepsPerEpoch, loss: history[history.length - 1]?.loss ?? NaN, valDice: history[history.length - 1]?.valDice, valSensitivity1FP: history[history.length - 1]?.valSensitivity1FP, imagesPerSec: rate, etaSec: 0 });
  return { out, epochs: epochsRun, history, seconds, backend, ...(resumedFrom !== undefined ? { resumedFrom } : {}), ...(keeper ? { bestEpoch: keeper.epoch, stoppedEarly: epochsRun < options.epochs } : {}) };
}
