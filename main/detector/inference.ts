/**
 * One loaded detector, run in the current thread: letterbox → model → maps cropped to the image →
 * findings. The worker wraps this; benchmarks and tests use it directly. Every tensor is disposed.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { StudioError, type AttentionMap, type Finding, type Map2D, type Variant } from '../../preload/contract.ts';
import { DEFAULT_FINDING_THRESHOLD, loadModel, readCard, MODEL_FILE } from './io.ts';
import { GRADCAM_LAYER, OUTPUT_STRIDE, attentionLayerNames, buildInferenceModel, foldBatchNorm, inferVariant, type AttentionKind } from './model.ts';
import { attentionOverImage, cropMap, findings, imageCells } from './postprocess.ts';
import { gradCam } from './gradcam.ts';
import { letterbox, type Letterbox, type RGBImage } from './preprocess.ts';
import { averageMirrored, mirroredBatch, passes, type FlipSet } from './flips.ts';

export interface RawDetection {
  variant: Variant;
  ms: number;
  /** Images the network ran: the input and its mirror images (flips.ts). */
  passes: number;
  heatmap: Map2D;
  attention: AttentionMap[];
  findings: Finding[];
}

export interface DetectOptions {
  threshold?: number;
  minCells?: number;
  /** Average over these mirror images of the input (main/detector/flips.ts); default none. */
  flips?: FlipSet;
}

export class LoadedDetector {
  readonly inputSize: number;
  readonly variant: Variant;
  /** The trained network with BatchNorm folded into its convolutions: what inference and Grad-CAM run. */
  private readonly folded: tf.LayersModel;
  private readonly inference: tf.LayersModel;
  private readonly outputs: { name: string; kind: AttentionKind | 'lesion' }[];

  constructor(readonly model: tf.LayersModel) {
    const shape = model.inputs[0].shape;
    this.inputSize = shape[1] as number;
    this.variant = inferVariant(model);
    this.folded = foldBatchNorm(model);
    const built = buildInferenceModel(this.folded);
    this.inference = built.model;
    this.outputs = built.outputs;
  }

  static async load(dir: string): Promise<LoadedDetector> {
    return new LoadedDetector(await loadModel(dir));
  }

  attentionLayers(): { name: string; kind: AttentionKind }[] {
    return attentionLayerNames(this.model);
  }

  private inputTensor(image: RGBImage): { x: tf.Tensor4D; box: Letterbox } {
    const { input, box } = letterbox(image, this.inputSize);
    return { x: tf.tensor4d(input, [1, this.inputSize, this.inputSize, 3]), box };
  }

  async detect(image: RGBImage, options: DetectOptions = {}): Promise<RawDetection> {
    const started = performance.now();
    const S = this.inputSize;
    const flips = options.flips ?? 'none';
    const { input, box } = letterbox(image, S);
    // The mirror images run as one batch; each output is then mapped back and averaged.
    const x = tf.tensor4d(mirroredBatch(input, S, S, 3, flips), [passes(flips), S, S, 3]);
    const outs = [this.inference.predict(x)].flat() as tf.Tensor[];
    const output = async (i: number) => averageMirrored((await outs[i].data()) as Float32Array, outs[i].shape, this.outputs[i].kind, flips);
    try {
      const lesionCells = imageCells(box, OUTPUT_STRIDE);
      const heatmap = cropMap(await output(0), S / OUTPUT_STRIDE, lesionCells.cols, lesionCells.rows);
      const attention: AttentionMap[] = [];
      for (let i = 1; i < outs.length; i++) {
        const { name, kind } = this.outputs[i];
        attention.push(attentionOverImage(name, kind as AttentionKind, await output(i), outs[i].shape, S, box, heatmap, OUTPUT_STRIDE));
      }
      const found = findings(heatmap, OUTPUT_STRIDE, box, image.width, image.height, { threshold: options.threshold ?? DEFAULT_FINDING_THRESHOLD, minCells: options.minCells });
      return { variant: this.variant, ms: performance.now() - started, passes: passes(flips), heatmap, attention, findings: found };
    } finally {
      tf.dispose([x, ...outs]);
    }
  }

  /** Grad-CAM of `layer` (default: the deepest stage) as a map over the image's full extent. */
  gradcam(image: RGBImage, layer = GRADCAM_LAYER): { layer: string; map: Map2D } {
    const found = this.model.layers.find((l) => l.name === layer);
    const shape = found?.outputShape as (number | null)[] | undefined;
    if (!found || !shape || shape.length !== 4 || Array.isArray(shape[0])) {
      throw new StudioError('INVALID_PAYLOAD', `Grad-CAM needs a feature layer of this model (for example ${GRADCAM_LAYER}); '${layer}' is not one`, layer);
    }
    const { x, box } = this.inputTensor(image);
    const S = this.inputSize;
    const cells = imageCells(box, OUTPUT_STRIDE);
    const maskData = new Float32Array((S / OUTPUT_STRIDE) ** 2);
    for (let y = 0; y < cells.rows; y++) for (let c = 0; c < cells.cols; c++) maskData[y * (S / OUTPUT_STRIDE) + c] = 1;
    const mask = tf.tensor4d(maskData, [1, S / OUTPUT_STRIDE, S / OUTPUT_STRIDE, 1]);
    try {
      const cam = gradCam(this.folded, x, layer, mask);
      const stride = S / cam.cols;
      const camCells = imageCells(box, stride);
      const map = cropMap(cam.data, cam.cols, camCells.cols, camCells.rows);
      let peak = 0;
      for (const v of map.data) peak = Math.max(peak, v);
      if (peak > 0) for (let i = 0; i < map.data.length; i++) map.data[i] /= peak;
      return { layer, map };
    } finally {
      tf.dispose([x, mask]);
    }
  }

  dispose(): void {
    this.folded.dispose();
    this.model.dispose();
  }
}

/** Loaded detectors by folder, reloaded when model.json changes (a retrained model replaces the old one). */
export class DetectorCache {
  private readonly entries = new Map<string, { mtime: number; detector: LoadedDetector }>();

  async get(dir: string): Promise<LoadedDetector> {
    let mtime = 0;
    try {
      mtime = statSync(join(dir, MODEL_FILE)).mtimeMs;
    } catch {
      // loadModel reports the missing file clearly
    }
    const hit = this.entries.get(dir);
    if (hit && hit.mtime === mtime) return hit.detector;
    if (hit) {
      hit.detector.dispose();
      this.entries.delete(dir);
    }
    const detector = await LoadedDetector.load(dir);
    this.entries.set(dir, { mtime, detector });
    return detector;
  }

  clear(): void {
    for (const e of this.entries.values()) e.detector.dispose();
    this.entries.clear();
  }
}

export { readCard };
