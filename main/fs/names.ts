/**
 * Names a person or a payload gives (a model's name, above all) joined into a folder the studio owns.
 * One helper for every such join, so no caller can forget a case: a name is one path segment, never
 * empty, `.` or `..`, never hidden (a leading dot), with no separator, NUL or control character, and
 * the path it makes (after following a link already there) stays inside the folder.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { StudioError } from '../../preload/contract.ts';

const MAX_NAME = 255;

function refuse(name: string, what: string, why: string): never {
  const shown = JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
  throw new StudioError('INVALID_PAYLOAD', `bad ${what} ${shown}: ${why}`, what);
}

/** The name itself when it is one safe path segment; otherwise INVALID_PAYLOAD with `what` as the subject. */
export function safeChildName(name: string, what = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) refuse(String(name ?? ''), what, 'it is empty');
  if (name.length > MAX_NAME) refuse(name, what, `it is longer than ${MAX_NAME} characters`);
  if (name === '.' || name === '..') refuse(name, what, 'it names a folder, not a child of one');
  if (name.startsWith('.')) refuse(name, what, 'it starts with a dot');
  // eslint-disable-next-line no-control-regex -- NUL and control characters are exactly what is refused
  if (/[/\\\u0000-\u001f\u007f]/.test(name)) refuse(name, what, 'it holds a path separator or a control character');
  // A drive or stream prefix (C:x, name:stream) means something else to Windows.
  if (name.includes(':')) refuse(name, what, "it holds ':'");
  return name;
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended, so a link already in place counts. */
export function realish(p: string): string {
  const rest: string[] = [];
  let cur = resolve(p);
  for (;;) {
    try {
      return join(realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = resolve(cur, '..');
      if (parent === cur) return join(cur, ...rest.reverse());
      rest.push(cur.slice(parent.length).replace(/^[/\\]/, ''));
      cur = parent;
    }
  }
}

/** Whether `p` is `root` or lies inside it (both absolute; no link resolution). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `root/name` for a name a payload gave, refusing any name that could leave `root` (see safeChildName)
 * and any child that already is a link out of it.
 */
export function childPath(root: string, name: string, what = 'name'): string {
  safeChildName(name, what);
  const base = resolve(root);
  const full = join(base, name);
  const realRoot = realish(base);
  const real = realish(full);
  if (real !== realRoot && !isInside(realRoot, real)) refuse(name, what, `it leads outside ${base}`);
  if (real === realRoot) refuse(name, what, 'it names the folder itself');
  return full;
}
