/**
 * The one inference pipeline. The viewer's engine, batch analysis, evaluation and training validation all
 * run a model through here, so a model is scored exactly as a reader sees it:
 *   letterboxed image → it and its mirror images as one batch → backend.forward → each output mapped back
 *   and averaged → (detect) maps cropped to the image, findings cut by the one post-processing rule.
 * Backends (TF.js, onnxruntime) differ only in how they run the network: `DetectorBackend.forward`.
 */
import type { AttentionMap, Finding, Map2D, Variant } from '../../preload/contract.ts';
import { averageMirrored, mirroredBatch, passes, unmirroredViews, type FlipSet } from './flips.ts';
import { DEFAULT_FINDING_THRESHOLD } from './io.ts';
import { OUTPUT_STRIDE, attentionStage, type AttentionKind, type OutputKind } from './model.ts';
import { appearanceOf, pooledViews, type AppearanceStats } from './appearance.ts';
import { attentionOverImage, cropMap, findings, imageCells, lesionScore } from './postprocess.ts';
import { letterbox, type Letterbox, type RGBImage } from './preprocess.ts';

export interface OutputSpec {
  name: string;
  kind: OutputKind;
}

/** One output of a forward pass over a batch: row-major data, `dims` with the batch axis first. */
export interface BatchOutput {
  data: Float32Array;
  dims: readonly number[];
}

/** A loaded network on some runtime. `load()` is each backend's own; what follows is common. */
export interface DetectorBackend {
  readonly runtime: 'tfjs' | 'onnxruntime';
  /** Side of the square NHWC input. */
  readonly inputSize: number;
  readonly variant: Variant;
  /** What `forward` returns, in order. The first is the lesion map [n, S/4, S/4, 1]; attention maps, then features, follow. */
  readonly outputs: readonly OutputSpec[];
  /** Run `n` images, NHWC [n, S, S, 3] in [0, 1]: every output, in `outputs` order. */
  forward(batch: Float32Array, n: number): Promise<BatchOutput[]>;
  dispose(): void | Promise<void>;
}

/**
 * One image's outputs, averaged over its mirror images; `dims` are each output's shape for one image
 * ([1, …]), except features, which keep each view ([views, h, w, C]).
 */
export interface ImageOutputs {
  data: Float32Array[];
  dims: number[][];
}

export interface PredictOptions {
  /** Average over these mirror images of each input (flips.ts); default none. */
  flips?: FlipSet;
  /** Network images per forward pass (mirror images included); default 1 image and its mirrors. */
  batch?: number;
}

/**
 * Letterboxed inputs (S×S×3: bytes, mapped to [0, 1], or floats already in [0, 1]) → each image's outputs.
 */
export async function predict(backend: DetectorBackend, inputs: readonly (Uint8Array | Float32Array)[], options: PredictOptions = {}): Promise<ImageOutputs[]> {
  const S = backend.inputSize;
  const flips = options.flips ?? 'none';
  const p = passes(flips);
  const perBatch = Math.max(1, Math.floor((options.batch ?? p) / p));
  const pixels = S * S * 3;
  const out: ImageOutputs[] = [];
  for (let i = 0; i < inputs.length; i += perBatch) {
    const chunk = inputs.slice(i, i + perBatch);
    const batch = new Float32Array(chunk.length * p * pixels);
    chunk.forEach((input, k) => {
      if (input.length !== pixels) throw new Error(`model input must be ${S}×${S}×3 values, got ${input.length}`);
      const scale = input instanceof Uint8Array ? 1 / 255 : 1;
      const mirrored = mirroredBatch(input, S, S, 3, flips);
      const base = k * p * pixels;
      if (scale === 1) batch.set(mirrored, base);
      else for (let j = 0; j < mirrored.length; j++) batch[base + j] = mirrored[j] * scale;
    });
    const outputs = await backend.forward(batch, chunk.length * p);
    for (let k = 0; k < chunk.length; k++) {
      const image: ImageOutputs = { data: [], dims: [] };
      outputs.forEach((o, j) => {
        const per = o.data.length / (chunk.length * p);
        const own = o.data.subarray(k * p * per, (k + 1) * p * per);
        const mirroredDims = [p, ...o.dims.slice(1)];
        // subarray shares the batch's buffer; a copy lets each image's maps be transferred on their own.
        // Features keep their views apart (each mapped back): the appearance score pools each view itself.
        const kind = backend.outputs[j].kind;
        if (kind === 'features') {
          image.data.push(p === 1 ? own.slice() : unmirroredViews(own, mirroredDims, flips));
          image.dims.push(mirroredDims);
          return;
        }
        image.data.push(p === 1 ? own.slice() : averageMirrored(own, mirroredDims, kind, flips));
        image.dims.push([1, ...o.dims.slice(1)]);
      });
      out.push(image);
    }
  }
  return out;
}

/** The lesion map [S/4 × S/4] of each letterboxed input (training validation needs nothing else). */
export async function predictLesionMaps(backend: DetectorBackend, inputs: readonly (Uint8Array | Float32Array)[], options: PredictOptions = {}): Promise<Float32Array[]> {
  return (await predict(backend, inputs, options)).map((o) => o.data[0]);
}

/**
 * Each letterboxed input's pooled appearance features per view (appearance.ts `pooledViews`), and the
 * layers they pool, for fitting and calibrating the appearance statistics on a model's own images. Empty
 * `layers` (and no vectors) when the backend gives no features.
 */
export async function predictAppearance(
  backend: DetectorBackend,
  inputs: readonly { image: Uint8Array | Float32Array; box: Pick<Letterbox, 'width' | 'height'> }[],
  options: PredictOptions & { onProgress?: (done: number) => void } = {},
): Promise<{ layers: { name: string; channels: number }[]; views: Float32Array[][] }> {
  const views: Float32Array[][] = [];
  let layers: { name: string; channels: number }[] = [];
  // In chunks, so a few thousand images never hold all their feature maps at once.
  for (let i = 0; i < inputs.length; i += 32) {
    const chunk = inputs.slice(i, i + 32);
    const outputs = await predict(backend, chunk.map((c) => c.image), options);
    layers = backend.outputs.flatMap((o, j) => (o.kind === 'features' ? [{ name: o.name, channels: outputs[0].dims[j][3] }] : []));
    outputs.forEach((o, k) => {
      const v = pooledViews(backend.outputs, o, chunk[k].box, backend.inputSize);
      if (v) views.push(v);
    });
    options.onProgress?.(Math.min(inputs.length, i + chunk.length));
  }
  return { layers, views };
}

export interface DetectOptions {
  threshold?: number;
  minCells?: number;
  /** Average over these mirror images of the input (main/detector/flips.ts); default none. */
  flips?: FlipSet;
  /** The spatial gate training fitted to the lesion mask (the card's attention supervision), if any. */
  supervisedGate?: string;
  /** The model's appearance statistics for these flips (appearance.json), when it has them: the detection is scored against them. */
  appearance?: AppearanceStats;
}

export interface RawDetection {
  variant: Variant;
  ms: number;
  /** Images the network ran: the input and its mirror images (flips.ts). */
  passes: number;
  heatmap: Map2D;
  attention: AttentionMap[];
  findings: Finding[];
  /** The image-level "lesion present" score (see DetectionResult.lesionScore). */
  lesionScore: number;
  /** How unlike the model's training images this one looks to it, and the score above which it is not their kind (DetectionResult.appearance). */
  appearance?: { score: number; threshold: number };
}

/**
 * How unlike `stats`' training images one image looks to the network, as `detect` scores it (the same
 * letterbox, views and rule), without cutting findings: the viewer's check before a run.
 */
export async function appearanceOfImage(backend: DetectorBackend, image: RGBImage, stats: AppearanceStats, flips: FlipSet): Promise<{ score: number; threshold: number } | undefined> {
  const S = backend.inputSize;
  const { input, box } = letterbox(image, S);
  const [out] = await predict(backend, [input], { flips });
  return appearanceOf(stats, backend.outputs, out, box, S);
}

/** One image → lesion heatmap and attention maps over the image's extent, and findings in its pixels. */
export async function detect(backend: DetectorBackend, image: RGBImage, options: DetectOptions = {}): Promise<RawDetection> {
  const started = performance.now();
  const S = backend.inputSize;
  const flips = options.flips ?? 'none';
  const { input, box } = letterbox(image, S);
  const [out] = await predict(backend, [input], { flips });
  const lesionCells = imageCells(box, OUTPUT_STRIDE);
  const heatmap = cropMap(out.data[0], S / OUTPUT_STRIDE, lesionCells.cols, lesionCells.rows);
  const attention: AttentionMap[] = [];
  for (let i = 1; i < backend.outputs.length; i++) {
    const { name, kind } = backend.outputs[i];
    if (kind === 'features') continue;
    const module = { name, kind: kind as AttentionKind, stage: attentionStage(name), supervised: name === options.supervisedGate };
    attention.push(attentionOverImage(module, out.data[i], out.dims[i], S, box, heatmap, OUTPUT_STRIDE));
  }
  const found = findings(heatmap, OUTPUT_STRIDE, box, image.width, image.height, { threshold: options.threshold ?? DEFAULT_FINDING_THRESHOLD, minCells: options.minCells });
  const appearance = options.appearance && appearanceOf(options.appearance, backend.outputs, out, box, S);
  return { variant: backend.variant, ms: performance.now() - started, passes: passes(flips), heatmap, attention, findings: found, lesionScore: lesionScore(heatmap), ...(appearance ? { appearance } : {}) };
}
