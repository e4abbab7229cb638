/**
 * An inference worker thread: its own tfjs and backend, a cache of loaded models, one request at a time.
 * Grad-CAM needs conv gradient kernels; wasm lacks them unless the training kernels are registered, so
 * Grad-CAM then runs on this thread's `cpu` backend with a cpu copy of the model (and says so).
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { StudioError } from '../../preload/contract.ts';
import { setGradientsAvailable, startBackend, type BackendState } from './backend.ts';
import { TfjsDetector } from './tfjs-detector.ts';
import { ModelCache } from './model-cache.ts';
import { appearanceOfImage, detect, type DetectorBackend } from './pipeline.ts';
import { appearanceCalibration, modelFlips, supervisedGate } from './io.ts';
import { AppearanceCache, type AppearanceStats } from './appearance.ts';
import type { FlipSet } from './flips.ts';
import type { WorkerReply, WorkerRequest, WorkerResult } from './protocol.ts';
import { OnnxExportError, startOnnxRuntime, type OnnxWorkerRuntime } from './runtime/index.ts';

if (!parentPort) throw new Error('detector worker must run in a worker thread');
const port = parentPort;

let state: BackendState | null = null;
const detectors = new ModelCache((dir) => TfjsDetector.load(dir));
const cpuDetectors = new ModelCache((dir) => TfjsDetector.load(dir));
const appearance = new AppearanceCache();
let wasmKernelsTried = false;
/** onnxruntime, when it serves inference in this worker (main/runtime). */
let onnx: OnnxWorkerRuntime | null = null;
let tfjsBackend: string | undefined;

/** Register the studio's wasm gradient kernels (loaded on the first Grad-CAM: inference never needs them). */
async function tryWasmGradients(): Promise<string | undefined> {
  if (wasmKernelsTried || !state || state.backend !== 'wasm') return undefined;
  wasmKernelsTried = true;
  try {
    const { registerWasmGradientKernels } = await import('./kernels/index.ts');
    registerWasmGradientKernels();
    setGradientsAvailable();
    return undefined;
  } catch (err) {
    return `wasm gradient kernels failed to register: ${(err as Error).message}`;
  }
}

/** The backend that serves a model: onnxruntime when it runs in this worker and can export the model, else TF.js. */
async function backendFor(modelDir: string): Promise<DetectorBackend> {
  if (onnx) {
    try {
      return await onnx.models.get(modelDir);
    } catch (err) {
      if (!(err instanceof OnnxExportError)) throw err;
      // A layer the exporter cannot map: this model runs on TF.js instead of failing.
      state ??= await startBackend(tfjsBackend);
    }
  }
  return detectors.get(modelDir);
}

/** A model's appearance statistics for detections with `flips`, with its card's threshold for them (none without both). */
function appearanceStats(dir: string, flips: FlipSet): AppearanceStats | undefined {
  return appearance.get(dir, flips, appearanceCalibration(dir, flips));
}

async function handle(req: WorkerRequest): Promise<WorkerResult> {
  switch (req.type) {
    case 'init': {
      tfjsBackend = req.backend;
      const started = await startOnnxRuntime({ runtime: req.runtime, threads: req.threads ?? 1 });
      onnx = started.runtime;
      if (onnx) return { type: 'init', state: onnx.state };
      state = await startBackend(req.backend);
      state.notes.push(...started.notes.filter((n) => !state!.notes.includes(n)));
      return { type: 'init', state };
    }
    case 'detect': {
      const backend = await backendFor(req.modelDir);
      const flips = modelFlips(req.modelDir, req.flips);
      const options = { threshold: req.threshold, flips, supervisedGate: supervisedGate(req.modelDir), appearance: appearanceStats(req.modelDir, flips) };
      return { type: 'detect', detection: await detect(backend, req.image, options) };
    }
    case 'appearance': {
      const flips = modelFlips(req.modelDir, req.flips);
      const stats = appearanceStats(req.modelDir, flips);
      // A model without statistics has no score to give: it is checked on what the image declares only.
      if (!stats) return { type: 'appearance' };
      return { type: 'appearance', appearance: await appearanceOfImage(await backendFor(req.modelDir), req.image, stats, flips) };
    }
    case 'gradcam': {
      // Grad-CAM needs gradients: it stays on TF.js, started here on first use when onnxruntime serves inference.
      if (!state && onnx) state = await startBackend(tfjsBackend);
      if (!state) throw new Error('worker not initialised');
      let note = await tryWasmGradients();
      if (state.gradients) {
        const detector = await detectors.get(req.modelDir);
        return { type: 'gradcam', ...detector.gradcam(req.image, req.layer), backend: state.backend };
      }
      const home = tf.getBackend();
      await tf.setBackend('cpu');
      try {
        const detector = await cpuDetectors.get(req.modelDir);
        note = `Grad-CAM computed on the cpu backend: ${home} lacks conv gradient kernels${note ? ` (${note})` : ''}`;
        return { type: 'gradcam', ...detector.gradcam(req.image, req.layer), backend: 'cpu', note };
      } finally {
        await tf.setBackend(home);
      }
    }
    case 'memory': {
      const m = tf.memory();
      return { type: 'memory', numTensors: m.numTensors, numBytes: m.numBytes };
    }
  }
}

function transferables(result: WorkerResult): ArrayBuffer[] {
  if (result.type === 'detect') return [result.detection.heatmap.data.buffer as ArrayBuffer, ...result.detection.attention.map((a) => a.map.data.buffer as ArrayBuffer)];
  if (result.type === 'gradcam') return [result.map.data.buffer as ArrayBuffer];
  return [];
}

// Requests are handled strictly one after another: tfjs's backend and caches are per-thread state.
let queue: Promise<void> = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  queue = queue.then(async () => {
    let reply: WorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = await handle(req);
      reply = { id: req.id, ok: true, result };
      transfer = transferables(result);
    } catch (err) {
      const e = err as StudioError;
      reply = { id: req.id, ok: false, error: { code: e instanceof StudioError ? e.code : 'INTERNAL', message: e?.message ?? String(err), ...(e?.subject ? { subject: e.subject } : {}) } };
    }
    try {
      port.postMessage(reply, transfer);
    } catch (err) {
      // A reply that cannot be sent (an uncloneable value, a buffer listed twice) must still settle the
      // request, or its caller waits forever.
      port.postMessage({ id: req.id, ok: false, error: { code: 'INTERNAL', message: `worker reply could not be sent: ${(err as Error).message}` } } satisfies WorkerReply);
    }
  });
});
