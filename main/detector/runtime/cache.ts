/**
 * The ONNX copy of a studio model, exported on first use and cached: `models/<name>/model.onnx` next to
 * model.json, with `model.onnx.json` recording the key it was made from (a hash of model.json and the
 * weight files, plus the exporter version), so retraining or replacing the weights re-exports it. Where
 * the model folder is not writable the copy goes to `<homeDir>/cache/onnx/<key>.onnx` instead.
 */
import { readBoundedBytes, readBoundedText } from '../../fs/read.ts';
import { writeAtomic } from '../../fs/write.ts';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { threadId } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { StudioError, type Variant } from '../../../preload/contract.ts';
import { MAX_MODEL_JSON_BYTES, MODEL_FILE, loadModel } from '../io.ts';
import { inferVariant, type OutputKind } from '../model.ts';
import { loadSettings } from '../../settings.ts';
import { EXPORTER_VERSION, exportOnnx } from './onnx/export.ts';
import type { Dims } from './onnx/graph.ts';

export const ONNX_FILE = 'model.onnx';

/**
 * A model onnxruntime cannot serve: TF.js serves it instead. `lasting` when the exporter cannot map one of
 * its layers (it stays so until the model changes); a session that failed to start (out of memory, too many
 * open files) may start next time, so that model is tried on onnxruntime again.
 */
export class OnnxExportError extends StudioError {
  constructor(
    message: string,
    subject: string,
    readonly lasting = true,
  ) {
    super('MODEL_LOAD_FAILED', message, subject);
  }
}
export const ONNX_META = 'model.onnx.json';

export interface OnnxMeta {
  key: string;
  exporter: string;
  variant: Variant;
  input: { name: string; shape: Dims };
  outputs: { name: string; kind: OutputKind; shape: Dims }[];
  createdAt: string;
}

/**
 * A hash of everything the export depends on: model.json, every weight file it lists, the exporter.
 * model.json may be hostile: only regular files inside the folder are read (a path naming /dev/zero or a
 * FIFO would otherwise fill memory or block this worker forever); loadModel reports bad paths clearly.
 */
export function modelKey(dir: string): string {
  const folder = resolve(dir);
  const jsonPath = join(folder, MODEL_FILE);
  if (!existsSync(jsonPath)) throw new StudioError('MODEL_LOAD_FAILED', `no ${MODEL_FILE} in ${folder}`, folder);
  let json: Buffer;
  try {
    json = readBoundedBytes(jsonPath, MAX_MODEL_JSON_BYTES);
  } catch (err) {
    throw new StudioError('MODEL_LOAD_FAILED', `cannot read ${jsonPath}: ${(err as Error).message}`, jsonPath);
  }
  const hash = createHash('sha256').update(`exporter ${EXPORTER_VERSION}\n`).update(json);
  let manifest: unknown = [];
  try {
    manifest = (JSON.parse(json.toString('utf8')) as { weightsManifest?: unknown }).weightsManifest ?? [];
  } catch {
    // loadModel reports a broken model.json clearly when the export runs
  }
  const hashed = new Set<string>();
  for (const group of Array.isArray(manifest) ? (manifest as { paths?: unknown }[]) : []) {
    for (const p of Array.isArray(group?.paths) ? group.paths : []) {
      if (typeof p !== 'string') continue;
      const file = resolve(folder, p);
      // Each file once (loadModel refuses a manifest that lists one twice).
      if (!file.startsWith(folder + sep) || hashed.has(file)) continue;
      hashed.add(file);
      const info = statSync(file, { throwIfNoEntry: false });
      if (info?.isFile()) hash.update(readFileSync(file));
    }
  }
  return hash.digest('hex').slice(0, 32);
}


/** model.onnx.json is a few hundred bytes: names and shapes of the network's inputs and outputs. */
const MAX_META_BYTES = 1024 ** 2;

function readMeta(path: string): OnnxMeta | null {
  try {
    return JSON.parse(readBoundedText(path, MAX_META_BYTES)) as OnnxMeta;
  } catch {
    return null;
  }
}

function cacheDir(): string {
  return join(loadSettings().homeDir, 'cache', 'onnx');
}

/** Where the cached export for `dir` would be, in the model folder and in the user's cache. */
function candidates(dir: string, key: string): { onnx: string; meta: string }[] {
  return [
    { onnx: join(dir, ONNX_FILE), meta: join(dir, ONNX_META) },
    { onnx: join(cacheDir(), `${key}.onnx`), meta: join(cacheDir(), `${key}.json`) },
  ];
}

/**
 * The ONNX model for the TF.js model in `dir`: the cached export when its key matches, else a fresh
 * export (TF.js loads the model on whatever backend this thread has; the export only reads weights).
 */
export async function onnxModelFor(dir: string, log?: (line: string) => void, options: { discard?: string } = {}): Promise<{ path: string; meta: OnnxMeta; exported: boolean }> {
  const key = modelKey(dir);
  // A cached export onnxruntime refused (damaged on disk): forget it so it is made again.
  if (options.discard) for (const c of candidates(dir, key)) if (c.onnx === options.discard) rmSync(c.meta, { force: true });
  const cached = () => {
    for (const c of candidates(dir, key)) {
      const meta = readMeta(c.meta);
      if (meta?.key === key && existsSync(c.onnx)) return { path: c.onnx, meta, exported: false };
    }
    return null;
  };
  const hit = cached();
  if (hit) return hit;
  // Batch starts one worker per core and they all ask for the model at once: one exports, the others wait for it.
  const lock = await acquireLock(join(dir, ONNX_LOCK), cached);
  if (!('release' in lock)) return lock;
  try {
    return cached() ?? (await exportTo(dir, key, log));
  } finally {
    lock.release();
  }
}

export const ONNX_LOCK = 'model.onnx.lock';
const LOCK_STALE_MS = 60_000;

/** An exclusive lock file, or what `ready` finds while another thread holds it. No lock (but no wait) where the folder is read-only. */
async function acquireLock<T>(path: string, ready: () => T | null): Promise<{ release(): void } | T> {
  const release = () => rmSync(path, { force: true });
  for (;;) {
    try {
      writeFileSync(path, `${process.pid} ${threadId}\n`, { flag: 'wx' });
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { release: () => {} };
    }
    const found = ready();
    if (found) return found;
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released just now: try to take it
    }
    if (age > LOCK_STALE_MS) release(); // a crashed exporter's lock
    else await new Promise((r) => setTimeout(r, 50));
  }
}

async function exportTo(dir: string, key: string, log?: (line: string) => void): Promise<{ path: string; meta: OnnxMeta; exported: boolean }> {
  tf.enableProdMode(); // no debug checks or console banner: TF.js only reads the weights here
  const model = await loadModel(dir);
  let exported: ReturnType<typeof exportOnnx>;
  let variant: Variant;
  try {
    variant = inferVariant(model);
    exported = exportOnnx(model);
  } catch (err) {
    throw new OnnxExportError(`cannot export ${resolve(dir)} to ONNX: ${(err as Error).message}`, resolve(dir));
  } finally {
    model.dispose();
  }
  const meta: OnnxMeta = { key, exporter: EXPORTER_VERSION, variant, input: exported.input, outputs: exported.outputs, createdAt: new Date().toISOString() };
  let lastError: unknown;
  for (const c of candidates(dir, key)) {
    try {
      mkdirSync(join(c.onnx, '..'), { recursive: true });
      writeAtomic(c.onnx, exported.bytes);
      writeAtomic(c.meta, `${JSON.stringify(meta, null, 2)}\n`);
      log?.(`runtime: exported ${resolve(dir)} to ${c.onnx}`);
      return { path: c.onnx, meta, exported: true };
    } catch (err) {
      lastError = err;
    }
  }
  throw new StudioError('MODEL_LOAD_FAILED', `cannot write the ONNX export of ${resolve(dir)}: ${(lastError as Error).message}`, resolve(dir));
}
