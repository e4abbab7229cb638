/**
 * Creating folders for paths a person (or a payload) names. Node 20's own `mkdir(…, { recursive: true })`
 * loops forever when a parent exists but refuses children with ENOENT (anything under /proc), which
 * froze the whole process on a bad `out` or `store` path: walk up to the nearest existing folder and
 * create each missing one plainly, so every failure is an ordinary error.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

export function ensureDir(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  for (;;) {
    try {
      if (!statSync(p).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: 'ENOTDIR', path: p });
      break;
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
      missing.push(p);
      const parent = dirname(p);
      if (parent === p) break;
      p = parent;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (err) {
      // Another process may have made it meanwhile; anything else is the real reason.
      if (code(err) !== 'EEXIST' || !statSync(dir).isDirectory()) throw err;
    }
  }
}
