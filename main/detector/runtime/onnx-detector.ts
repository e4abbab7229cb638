/**
 * The onnxruntime backend of the detector: the model's ONNX export (exported on first use, cache.ts)
 * behind `DetectorBackend.forward`, so the one pipeline (../pipeline.ts) runs it as it runs TF.js.
 */
import type * as Ort from 'onnxruntime-node';
import type { Variant } from '../../../preload/contract.ts';
import type { BatchOutput, DetectorBackend, OutputSpec } from '../pipeline.ts';
import { checkCard, checkInputShape } from '../io.ts';
import { OnnxExportError, onnxModelFor, type OnnxMeta } from './cache.ts';
import { createSession, type OrtModule, type Provider } from './ort.ts';

export class OnnxDetector implements DetectorBackend {
  readonly runtime = 'onnxruntime' as const;
  readonly inputSize: number;
  readonly variant: Variant;
  readonly outputs: readonly OutputSpec[];

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly meta: OnnxMeta,
    readonly provider: Provider,
    readonly notes: string[],
  ) {
    this.inputSize = checkInputShape(meta.input.shape, 'model.onnx.json');
    this.variant = meta.variant;
    this.outputs = meta.outputs.map(({ name, kind }) => ({ name, kind }));
  }

  static async load(ort: OrtModule, dir: string, options: { threads: number; provider?: Provider | 'auto'; log?: (line: string) => void }): Promise<OnnxDetector> {
    checkCard(dir);
    let { path, meta, exported } = await onnxModelFor(dir, options.log);
    try {
      const { session, provider, notes } = await createSession(ort, path, options);
      return new OnnxDetector(ort, session, meta, provider, notes);
    } catch (err) {
      if (exported) throw new OnnxExportError(`onnxruntime cannot load the export of ${dir}: ${(err as Error).message.split('\n')[0]}`, dir, false);
      // The cached file is damaged (a partial copy, a disk error): export again once.
      options.log?.(`runtime: cached ${path} failed to load (${(err as Error).message.split('\n')[0]}); exporting again`);
      ({ path, meta, exported } = await onnxModelFor(dir, options.log, { discard: path }));
    }
    try {
      const { session, provider, notes } = await createSession(ort, path, options);
      return new OnnxDetector(ort, session, meta, provider, notes);
    } catch (err) {
      throw new OnnxExportError(`onnxruntime cannot load the export of ${dir}: ${(err as Error).message.split('\n')[0]}`, dir, false);
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

  async forward(batch: Float32Array, n: number): Promise<BatchOutput[]> {
    const outs = await this.run(batch, n);
    return this.outputs.map((o) => outs[o.name]);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
