/**
 * Pick and start the best TensorFlow.js backend present: `tensorflow` (libtensorflow through the optional
 * tfjs-node-gpu, then tfjs-node), else `wasm` (SIMD), else `cpu`. `preferred` (settings.backend,
 * STUDIO_BACKEND) forces one; when it cannot start, the next best is used and a note says why.
 * Each worker thread calls this once for its own tfjs instance.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendReport } from '../../preload/contract.ts';

export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

const require = createRequire(import.meta.url);

export interface BackendState extends BackendReport {
  /** Whether this backend has the gradient kernels Grad-CAM needs (conv backprop). */
  gradients: boolean;
}

async function tryTensorflow(notes: string[]): Promise<{ gpu: boolean; version: string } | null> {
  for (const [pkg, gpu] of [['@tensorflow/tfjs-node-gpu', true], ['@tensorflow/tfjs-node', false]] as const) {
    try {
      // Optional dependencies: absent (or without libtensorflow) on many machines, so import them dynamically.
      const mod = (await import(pkg)) as { version?: { 'tfjs-node'?: string } };
      if (await tf.setBackend('tensorflow')) return { gpu, version: mod.version?.['tfjs-node'] ?? 'unknown' };
      notes.push(`${pkg} loaded but the tensorflow backend did not start`);
    } catch (err) {
      notes.push(`${pkg} unavailable: ${firstLine(err)}`);
    }
  }
  return null;
}

async function tryWasm(notes: string[]): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(`${join(dist, '/')}`);
    if (await tf.setBackend('wasm')) return true;
    notes.push('wasm backend did not start');
  } catch (err) {
    notes.push(`wasm unavailable: ${firstLine(err)}`);
  }
  return false;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
}

function versions(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { node: process.versions.node, 'tfjs-core': tf.version_core, ...extra };
  try {
    out['tfjs-backend-wasm'] = (require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
  } catch {
    // absent: nothing to report
  }
  return out;
}

let started: BackendState | null = null;

/** Start the backend (once per thread) and describe it. */
export async function startBackend(preferred?: string): Promise<BackendState> {
  if (started) return started;
  // Production mode: skips debug checks and the cpu backend's console banner about tfjs-node.
  tf.enableProdMode();
  const notes: string[] = [];
  const want = preferred?.toLowerCase();
  if (want && !(BACKENDS as readonly string[]).includes(want)) notes.push(`unknown backend '${preferred}' requested; choosing automatically`);
  const order: BackendName[] = want && (BACKENDS as readonly string[]).includes(want) ? [want as BackendName, ...BACKENDS.filter((b) => b !== want)] : [...BACKENDS];
  for (const name of order) {
    if (name === 'tensorflow') {
      const tfn = await tryTensorflow(notes);
      if (tfn) {
        started = { backend: 'tensorflow', runtime: 'tfjs', gpu: tfn.gpu, threads: 0, versions: versions({ 'tfjs-node': tfn.version }), notes, gradients: true };
        break;
      }
    } else if (name === 'wasm') {
      if (await tryWasm(notes)) {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
        notes.push(`wasm SIMD ${simd ? 'on' : 'off'}; wasm threads are off under Node, so parallelism comes from worker threads`);
        started = { backend: 'wasm', runtime: 'tfjs', gpu: false, threads: wasm.getThreadsCount(), versions: versions(), notes, gradients: false };
        break;
      }
    } else if (await tf.setBackend('cpu')) {
      started = { backend: 'cpu', runtime: 'tfjs', gpu: false, threads: 1, versions: versions(), notes, gradients: true };
      break;
    }
  }
  if (!started) throw new Error(`no TensorFlow.js backend could start: ${notes.join('; ')}`);
  if (want && started.backend !== want) notes.push(`requested backend '${want}' could not start; using ${started.backend}`);
  await tf.ready();
  return started;
}

/** Mark that gradient kernels were added (the training helper's wasm kernels). */
export function setGradientsAvailable(): void {
  if (started) started.gradients = true;
}
