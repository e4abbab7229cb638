/** A small, strict option parser: unknown options are errors, not silently ignored. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StudioError } from '../../preload/contract.ts';
import { MODEL_FILE, modelDir } from '../detector/io.ts';

export interface ParsedArgs {
  positional: string[];
  options: Record<string, string | true>;
}

/** `spec` maps each option name to whether it takes a value. */
export function parseArgs(args: string[], spec: Record<string, 'value' | 'flag'>): ParsedArgs {
  const positional: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const kind = spec[rawName];
    if (!kind) throw new StudioError('INVALID_PAYLOAD', `unknown option --${rawName}`);
    if (kind === 'flag') options[rawName] = true;
    else {
      const value = inline ?? args[++i];
      if (value === undefined) throw new StudioError('INVALID_PAYLOAD', `--${rawName} needs a value`);
      options[rawName] = value;
    }
  }
  return { positional, options };
}

export function numberOption(options: ParsedArgs['options'], name: string, fallback: number): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === true || !Number.isFinite(n)) throw new StudioError('INVALID_PAYLOAD', `--${name} must be a number`);
  return n;
}

/** A `--model` argument's folder: a path (anything with a separator) as given, else a name in `modelsDir`. */
export function modelFolder(arg: string, modelsDir: string): string {
  if (!/[\\/]/.test(arg)) return modelDir(modelsDir, arg);
  const dir = resolve(arg);
  if (!existsSync(join(dir, MODEL_FILE))) throw new StudioError('NOT_FOUND', `no model at ${dir} (no ${MODEL_FILE} there)`, arg);
  return dir;
}
