/** A small, strict option parser: unknown options are errors, not silently ignored. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requests, StudioError, type Channel, type ValidRequest } from '../../preload/contract.ts';
import { commaList } from '../../preload/lists.ts';
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

/**
 * A number as typed: decimal digits, an optional sign, point and exponent. Number() alone reads "" and " " as
 * 0 (`--threshold ""` would have made every pixel a finding) and "0x10" as 16.
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const asNumber = (raw: string | true): number => (raw !== true && DECIMAL.test(raw.trim()) ? Number(raw) : NaN);

export function numberOption(options: ParsedArgs['options'], name: string, fallback: number): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const n = asNumber(raw);
  if (!Number.isFinite(n)) throw new StudioError('INVALID_PAYLOAD', `--${name} must be a number`);
  return n;
}

/** A `--model` argument's folder: a path (anything with a separator) as given, else a name in `modelsDir`. */
export function modelFolder(arg: string, modelsDir: string): string {
  if (!/[\\/]/.test(arg)) return modelDir(modelsDir, arg);
  const dir = resolve(arg);
  if (!existsSync(join(dir, MODEL_FILE))) throw new StudioError('NOT_FOUND', `no model at ${dir} (no ${MODEL_FILE} there)`, arg);
  return dir;
}

/** An option's comma-separated list (preload/lists.ts), or undefined when it is absent. */
export function listOption(options: ParsedArgs['options'], name: string): string[] | undefined {
  const raw = options[name];
  return typeof raw === 'string' ? commaList(raw) : undefined;
}

/** An option's number, or undefined when it is absent (NaN when it is not a number: the schema says so). */
export function optionalNumber(options: ParsedArgs['options'], name: string): number | undefined {
  const raw = options[name];
  return raw === undefined ? undefined : asNumber(raw);
}

type Issue = { code: string; path: PropertyKey[]; message: string; values?: unknown[]; minimum?: unknown; maximum?: unknown; inclusive?: boolean; divisor?: unknown; expected?: string };

/** zod reports a field left out as the wrong type, "received undefined". */
const missing = (issue: Issue) => issue.code === 'invalid_type' && /received undefined$/.test(issue.message);

/** A schema issue in the CLI's words: the option that set the field, and what it must be. */
function optionMessage(flag: string, issue: Issue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `${flag} must be one of ${(issue.values ?? []).join(', ')}`;
    case 'too_small':
      return `${flag} must be ${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}`;
    case 'too_big':
      return `${flag} must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}`;
    case 'not_multiple_of':
      return `${flag} must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_type':
      if (missing(issue)) return `${flag} is required`;
      return `${flag} must be ${issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`}`;
    default:
      return `${flag}: ${issue.message}`;
  }
}

/**
 * Build a contract request from command-line options and validate it with the contract's own schema, so a
 * command accepts exactly what the panels may send, with the same defaults and bounds, and no second set
 * of checks. `flags` names the option that sets each request field, for the message.
 */
export function contractRequest<C extends Channel>(channel: C, request: Record<string, unknown>, flags: Partial<Record<string, string>>, usage?: string): ValidRequest<C> {
  const defined = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
  const parsed = requests[channel].safeParse(defined);
  if (parsed.success) return parsed.data as ValidRequest<C>;
  const issue = parsed.error.issues[0] as unknown as Issue;
  const field = String(issue.path[0] ?? '');
  const flag = flags[field] ? `--${flags[field]}` : field;
  throw new StudioError('INVALID_PAYLOAD', `${optionMessage(flag, issue)}${usage && missing(issue) ? `\nUsage: ${usage}` : ''}`, flag);
}
