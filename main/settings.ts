/**
 * Where things live, from the environment with sensible defaults. One place, so tests and the CLI can
 * point the services elsewhere without touching code.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder holding package.json), found from this file's location. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Settings {
  /** Public reference data (`../shared/data`): read in place, never copied. Undefined when absent. */
  dataDir: string | undefined;
  /** Trained models, each in `<modelsDir>/<name>/`. */
  modelsDir: string;
  /** The user's own studio files (review store, run checkpoints). */
  homeDir: string;
  /** Force a TensorFlow.js backend (`tensorflow`, `wasm`, `cpu`) instead of the best present. */
  backend: string | undefined;
  /** Inference runtime: `auto` (default: onnxruntime when installed), `onnxruntime`, `onnxruntime-cpu`, `onnxruntime-cuda` or `tfjs`. */
  runtime: string | undefined;
  /**
   * Folders the browser host may open and write besides the studio's own (`STUDIO_ALLOWED_DIRS`, separated
   * like PATH): see main/host/paths.ts. Absent where a caller builds settings by hand.
   */
  allowedDirs?: string[];
}

/** `STUDIO_ALLOWED_DIRS` as absolute folders (empty entries dropped). */
export function allowedDirsFrom(value: string | undefined): string[] {
  return (value ?? '')
    .split(delimiter)
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => resolve(d));
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const candidate = env.STUDIO_DATA_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'data');
  return {
    dataDir: existsSync(candidate) ? resolve(candidate) : undefined,
    modelsDir: resolve(env.STUDIO_MODELS_DIR ?? join(PROJECT_ROOT, 'models')),
    homeDir: resolve(env.STUDIO_HOME ?? join(homedir(), '.attention-studio')),
    backend: env.STUDIO_BACKEND || undefined,
    runtime: env.STUDIO_RUNTIME || undefined,
    allowedDirs: allowedDirsFrom(env.STUDIO_ALLOWED_DIRS),
  };
}

/** For tests: the reference data folder, or a reason to skip. */
export function referenceData(sub = ''): { dir: string } | { skip: string } {
  const { dataDir } = loadSettings();
  if (!dataDir) return { skip: 'reference data absent: set STUDIO_DATA_DIR or place it at ../shared/data' };
  const dir = join(dataDir, sub);
  return existsSync(dir) ? { dir } : { skip: `reference data folder missing: ${dir}` };
}

/**
 * A path as a model card records it: relative to the project root when it lies inside the project or
 * beside it (`../shared/data/kvasir-seg`), so shipped cards do not carry one machine's folder layout.
 */
export function portablePath(path: string): string {
  const absolute = resolve(path);
  const rel = relative(PROJECT_ROOT, absolute);
  if (rel === '' || isAbsolute(rel) || rel.startsWith(`..${sep}..`)) return absolute;
  return rel.split(sep).join('/');
}

/** The absolute path for one given relative to the project root (as cards and the studio's forms hold them). */
export function resolveProjectPath(path: string): string {
  return isAbsolute(path) ? path : resolve(PROJECT_ROOT, path);
}
