/**
 * What a training run is given, and the one mapping from the contract's validated `training.start` request
 * to it. A module of its own, without TensorFlow.js, so the services' main thread can build a run's options.
 */
import { availableParallelism } from 'node:os';
import type { AugmentationPreset, ValidRequest, Variant } from '../../preload/contract.ts';
import type { DatasetFormat } from '../datasets/index.ts';
import type { Split } from '../datasets/split.ts';

export interface TrainOptions {
  name: string;
  data: string;
  format: DatasetFormat;
  variant: Variant;
  epochs: number;
  batchSize: number;
  inputSize: number;
  learningRate: number;
  seed: number;
  limit?: number;
  /** Folders of lesion-free images trained and validated on beside the data (datasets/formats.ts). */
  negatives?: string[];
  /** Folder of a model to fine-tune from (its weights; its variant must match, and a base trained at another input size is rebuilt at this one). */
  base?: string;
  /** Where the finished model goes (`models/<name>`). */
  out: string;
  backend?: 'wasm' | 'cpu';
  /** Threads computing each step's gradients (data parallel, see parallel.ts); default 1 (requests get dataParallelThreads). */
  workers?: number;
  /**
   * Weight of the supervision of the CBAM spatial gate nearest the output by the lesion mask (objective.ts); 0 leaves the
   * gate unsupervised. Ignored by variants without a spatial gate. Default DEFAULT_ATTENTION_WEIGHT.
   */
  attentionWeight?: number;
  /** How hard each training image is perturbed (data.ts); default 'standard'. */
  augmentation?: AugmentationPreset;
  /**
   * The split to train on, when the caller decides it (an adaptation splits a site by sequence and mixes in
   * the base's lesion-free images by the base's own split); otherwise the trainer splits the data itself.
   */
  split?: Split;
  /**
   * Stop after this many epochs without a better validation score (mean of Dice and sensitivity at 1
   * FP/image) and keep the best epoch's weights; unset: run every epoch and keep the last.
   */
  patience?: number;
  /** Run validation every epoch (default true). */
  validate?: boolean;
  studioVersion?: string;
}

/**
 * Threads a run's gradients are computed on when none is asked for: one per core, but at least 4 images
 * per thread so BatchNorm statistics stay meaningful.
 */
export function dataParallelThreads(batchSize: number): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(batchSize / 4)));
}

/**
 * A validated `training.start` request as the trainer's options: the one mapping the services and
 * `studio train` share, so both run what the contract's schema accepted, with its defaults.
 */
export function trainOptionsFrom(
  request: ValidRequest<'training.start'>,
  where: { data: string; negatives?: string[]; out: string; base?: string; backend?: 'wasm' | 'cpu'; workers?: number; validate?: boolean; studioVersion?: string },
): TrainOptions {
  const { name, format, variant, epochs, batchSize, inputSize, learningRate, seed, limit, attentionWeight, augmentation, negatives } = request;
  return {
    name,
    format,
    variant,
    epochs,
    batchSize,
    inputSize,
    learningRate,
    seed,
    limit,
    attentionWeight,
    augmentation,
    ...where,
    negatives: where.negatives ?? negatives,
    workers: where.workers ?? dataParallelThreads(batchSize),
  };
}

