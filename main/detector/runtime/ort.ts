/**
 * onnxruntime-node, an optional dependency: loaded dynamically so the studio runs (on TF.js) without it.
 * Sessions try the CUDA execution provider first when its provider library is installed next to the
 * binding (onnxruntime-node's install script downloads it where the network allows), and fall back to
 * the CPU provider with a note saying why.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;
export type Provider = 'cpu' | 'cuda';

const require = createRequire(import.meta.url);

let loaded: { ort: OrtModule; version: string } | null | undefined;
let loadError = '';

/** onnxruntime-node, or null (with `ortLoadError()` saying why) when it is not installed or cannot load. */
export async function loadOrt(): Promise<{ ort: OrtModule; version: string } | null> {
  if (loaded !== undefined) return loaded;
  try {
    const mod = (await import('onnxruntime-node')) as OrtModule & { default?: OrtModule };
    const ort = (mod.InferenceSession ? mod : mod.default) as OrtModule;
    loaded = { ort, version: ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown' };
  } catch (err) {
    loadError = (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
    loaded = null;
  }
  return loaded;
}

export function ortLoadError(): string {
  return loadError;
}

/** The folder holding onnxruntime_binding.node for this platform, if the package is installed. */
function bindingDir(): string | null {
  try {
    const root = dirname(require.resolve('onnxruntime-node/package.json'));
    const bin = join(root, 'bin');
    for (const napi of existsSync(bin) ? readdirSync(bin) : []) {
      const dir = join(bin, napi, process.platform, process.arch);
      if (existsSync(join(dir, 'onnxruntime_binding.node'))) return dir;
    }
  } catch {
    // not installed
  }
  return null;
}

/** Whether the CUDA provider library is installed (it is not bundled in the npm package). */
export function cudaProviderInstalled(): boolean {
  const dir = bindingDir();
  return !!dir && readdirSync(dir).some((f) => f.startsWith('libonnxruntime_providers_cuda'));
}

export interface SessionChoice {
  session: Ort.InferenceSession;
  provider: Provider;
  notes: string[];
}

export interface SessionOptions {
  /** Intra-op threads of the CPU provider (its default behaved as one thread here; see FACTS). */
  threads: number;
  /** 'auto': CUDA when its provider is installed, else CPU. */
  provider?: Provider | 'auto';
}

/** A session over `model` (a file path or ONNX bytes): CUDA first where wanted and installed, else CPU. */
export async function createSession(ort: OrtModule, model: string | Uint8Array, options: SessionOptions): Promise<SessionChoice> {
  const notes: string[] = [];
  const base: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: Math.max(1, options.threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Idle intra-op threads sleep instead of spinning: on a shared or busy machine spinning threads fight
    // for the cores (measured here, 2 threads at 512²: 68 ms median spinning, 19 ms not).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const want = options.provider ?? 'auto';
  if (want === 'cuda' || (want === 'auto' && cudaProviderInstalled())) {
    if (!cudaProviderInstalled()) notes.push('CUDA execution provider requested but libonnxruntime_providers_cuda is not installed (onnxruntime-node downloads it at install time); using the CPU provider');
    else {
      try {
        const session = await open(ort, model, { ...base, executionProviders: ['cuda', 'cpu'] });
        return { session, provider: 'cuda', notes };
      } catch (err) {
        notes.push(`CUDA execution provider failed to start (${(err as Error).message.split('\n')[0].slice(0, 160)}); using the CPU provider`);
      }
    }
  }
  const session = await open(ort, model, { ...base, executionProviders: ['cpu'] });
  return { session, provider: 'cpu', notes };
}

function open(ort: OrtModule, model: string | Uint8Array, options: Ort.InferenceSession.SessionOptions): Promise<Ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}
