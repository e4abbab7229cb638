/**
 * One detector on onnxruntime: the same letterbox, outputs and post-processing as the TF.js
 * `LoadedDetector`, so `detect` returns the same `RawDetection` whichever runtime ran it.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { AttentionMap, Variant } from '../../preload/contract.ts';
import { DEFAULT_FINDING_THRESHOLD, MODEL_FILE } from '../detector/io.ts';
import { OUTPUT_STRIDE, type AttentionKind } from '../detector/model.ts';
import { attentionOverImage, cropMap, findings, imageCells } from '../detector/postprocess.ts';
import { letterbox, type RGBImage } from '../detector/preprocess.ts';
import { averageMirrored, mirroredBatch, passes } from '../detector/flips.ts';

import type { DetectOptions, RawDetection } from '../detector/inference.ts';
import { OnnxExportError, onnxModelFor, type OnnxMeta } from './cache.ts';
import { createSession, type OrtModule, type Provider } from './ort.ts';

export class OnnxDetector {
  readonly inputSize: number;
  readonly variant: Variant;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly meta: OnnxMeta,
    readonly provider: Provider,
    readonly notes: string[],
  ) {
    this.inputSize = meta.input.shape[1] as number;
    this.variant = meta.variant;
  }

  static async load(ort: OrtModule, dir: string, options: { threads: number; provider?: Provider | 'auto'; log?: (line: string) => void }): Promise<OnnxDetector> {
    let { path, meta, exported } = await onnxModelFor(dir, options.log);
    try {
      const { session, provider, notes } = await createSession(ort, path, options);
      return new OnnxDetector(ort, session, meta, provider, notes);
    } catch (err) {
      if (exported) throw new OnnxExportError(`onnxruntime cannot load the export of ${dir}: ${(err as Error).message.split('\n')[0]}`, dir);
      // The cached file is damaged (a partial copy, a disk error): export again once.
      options.log?.(`runtime: cached ${path} failed to load (${(err as Error).message.split('\n')[0]}); exporting again`);
      ({ path, meta, exported } = await onnxModelFor(dir, options.log, { discard: path }));
    }
    try {
      const { session, provider, notes } = await createSession(ort, path, options);
      return new OnnxDetector(ort, session, meta, provider, notes);
    } catch (err) {
      throw new OnnxExportError(`onnxruntime cannot load the export of ${dir}: ${(err as Error).message.split('\n')[0]}`, dir);
    }
  }

  /** Run the raw model on NHWC input [n, S, S, 3]: every output by name (for parity tests and benchmarks). */
  async run(input: Float32Array, n = 1): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
    const S = this.inputSize;
    const feeds = { [this.meta.input.name]: new this.ort.Tensor('float32', input, [n, S, S, 3]) };
    const results = await this.session.run(feeds);
    const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const o of this.meta.outputs) {
      const t = results[o.name];
      out[o.name] = { data: t.data as Float32Array, dims: t.dims };
    }
    return out;
  }

  async detect(image: RGBImage, options: DetectOptions = {}): Promise<RawDetection> {
    const started = performance.now();
    const S = this.inputSize;
    const flips = options.flips ?? 'none';
    const { input, box } = letterbox(image, S);
    // The mirror images run as one batch; each output is then mapped back and averaged.
    const outs = await this.run(mirroredBatch(input, S, S, 3, flips), passes(flips));
    const output = (name: string, kind: AttentionKind | 'lesion') => averageMirrored(outs[name].data, outs[name].dims, kind, flips);
    const [lesionSpec, ...maps] = this.meta.outputs;
    const lesionCells = imageCells(box, OUTPUT_STRIDE);
    const heatmap = cropMap(output(lesionSpec.name, 'lesion'), S / OUTPUT_STRIDE, lesionCells.cols, lesionCells.rows);
    const attention: AttentionMap[] = [];
    for (const { name, kind } of maps) {
      attention.push(attentionOverImage(name, kind as AttentionKind, output(name, kind), outs[name].dims, S, box, heatmap, OUTPUT_STRIDE));
    }
    const found = findings(heatmap, OUTPUT_STRIDE, box, image.width, image.height, { threshold: options.threshold ?? DEFAULT_FINDING_THRESHOLD, minCells: options.minCells });
    return { variant: this.variant, ms: performance.now() - started, passes: passes(flips), heatmap, attention, findings: found };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Loaded ONNX detectors by folder, reloaded (and re-exported if needed) when model.json changes. */
export class OnnxDetectorCache {
  private readonly entries = new Map<string, { mtime: number; detector: Promise<OnnxDetector> }>();

  constructor(
    private readonly ort: OrtModule,
    private readonly options: { threads: number; provider?: Provider | 'auto'; log?: (line: string) => void },
  ) {}

  async get(dir: string): Promise<OnnxDetector> {
    let mtime = 0;
    try {
      mtime = statSync(join(dir, MODEL_FILE)).mtimeMs;
    } catch {
      // the export reports the missing file clearly
    }
    const hit = this.entries.get(dir);
    if (hit && hit.mtime === mtime) return hit.detector;
    if (hit) {
      this.entries.delete(dir);
      hit.detector.then((d) => d.dispose(), () => {});
    }
    const detector = OnnxDetector.load(this.ort, dir, this.options);
    this.entries.set(dir, { mtime, detector });
    // A model the exporter cannot map stays failed until it changes (the worker serves it on TF.js);
    // any other failure (a file being written, say) is retried on the next request.
    detector.catch((err) => !(err instanceof OnnxExportError) && this.entries.get(dir)?.detector === detector && this.entries.delete(dir));
    return detector;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(all.map((e) => e.detector.then((d) => d.dispose())));
  }
}
