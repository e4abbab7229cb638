/**
 * The inference runtime of a worker thread: onnxruntime-node (CUDA provider where installed, else CPU)
 * when it loads, else TF.js (main/detector/backend.ts). `settings.runtime` / STUDIO_RUNTIME overrides:
 *   auto (default) · onnxruntime · onnxruntime-cpu · onnxruntime-cuda · tfjs
 * Training and Grad-CAM stay on TF.js whichever runtime serves inference.
 */
import type { BackendState } from '../backend.ts';
import { ModelCache } from '../model-cache.ts';
import { OnnxExportError } from './cache.ts';
import { OnnxDetector } from './onnx-detector.ts';
import { OnnxGraph } from './onnx/graph.ts';
import { createSession, cudaProviderInstalled, loadOrt, ortLoadError, type Provider } from './ort.ts';

export const RUNTIME_CHOICES = ['auto', 'onnxruntime', 'onnxruntime-cpu', 'onnxruntime-cuda', 'tfjs'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export function parseRuntime(value: string | undefined): { choice: RuntimeChoice; notes: string[] } {
  const v = (value ?? 'auto').trim().toLowerCase() || 'auto';
  if ((RUNTIME_CHOICES as readonly string[]).includes(v)) return { choice: v as RuntimeChoice, notes: [] };
  return { choice: 'auto', notes: [`unknown runtime '${value}' requested (expected ${RUNTIME_CHOICES.join(', ')}); choosing automatically`] };
}

export { threadsPerWorker } from './threads.ts';
export { OnnxExportError } from './cache.ts';

export interface OnnxWorkerRuntime {
  state: BackendState;
  /** Detectors by model folder; a model the exporter cannot map fails with OnnxExportError (TF.js serves it). */
  models: ModelCache<OnnxDetector>;
}

/** A one-node model: starting a session on it proves the binding and the provider work before any model is asked for. */
function probeModel(): Uint8Array {
  const g = new OnnxGraph('probe');
  g.node('Relu', [g.input('x', [1, 4])], 'y', {}, 'y');
  g.output('y', [1, 4]);
  return g.encode({ producer: 'attention-studio', version: 'probe' });
}

/**
 * Start onnxruntime for this worker, or return null (with `notes` saying why) when TF.js should serve:
 * the setting asks for tfjs, or onnxruntime-node is absent or fails to start.
 */
export async function startOnnxRuntime(options: { runtime?: string; threads: number; log?: (line: string) => void }): Promise<{ runtime: OnnxWorkerRuntime | null; notes: string[] }> {
  const { choice, notes } = parseRuntime(options.runtime);
  if (choice === 'tfjs') {
    notes.push('runtime tfjs requested (settings.runtime / STUDIO_RUNTIME)');
    return { runtime: null, notes };
  }
  const loaded = await loadOrt();
  if (!loaded) {
    notes.push(`onnxruntime-node unavailable (${ortLoadError()}); inference runs on TensorFlow.js`);
    return { runtime: null, notes };
  }
  const want: Provider | 'auto' = choice === 'onnxruntime-cpu' ? 'cpu' : choice === 'onnxruntime-cuda' ? 'cuda' : 'auto';
  let provider: Provider;
  try {
    const probe = await createSession(loaded.ort, probeModel(), { threads: 1, provider: want });
    provider = probe.provider;
    notes.push(...probe.notes);
    await probe.session.release();
  } catch (err) {
    notes.push(`onnxruntime-node failed to start a session (${(err as Error).message.split('\n')[0].slice(0, 160)}); inference runs on TensorFlow.js`);
    return { runtime: null, notes };
  }
  if (provider === 'cpu' && want === 'auto') notes.push(cudaProviderInstalled() ? 'CUDA provider installed but not usable; CPU execution provider' : 'CPU execution provider (the CUDA provider is not installed)');
  notes.push(`onnxruntime ${provider} execution provider, ${options.threads} intra-op thread(s) per worker; models are exported to ONNX on first use (model.onnx next to model.json)`);
  const session = { threads: options.threads, provider, log: options.log };
  // A model the exporter cannot map stays failed until it changes (the worker serves it on TF.js); a session
  // that failed to start is tried again on the next request.
  const models = new ModelCache((dir) => OnnxDetector.load(loaded.ort, dir, session), (err) => err instanceof OnnxExportError && err.lasting);
  const state: BackendState = {
    backend: `onnxruntime-${provider}`,
    runtime: 'onnxruntime',
    gpu: provider === 'cuda',
    threads: options.threads,
    versions: { node: process.versions.node, 'onnxruntime-node': loaded.version },
    notes,
    gradients: false,
  };
  return {
    runtime: { state, models },
    notes,
  };
}
