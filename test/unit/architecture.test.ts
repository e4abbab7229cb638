/**
 * Folders under main/ import in one direction: a cycle between two folders means neither can be read,
 * tested or replaced on its own. Type-only imports count too: they couple the folders just the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'main');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return /\.(ts|tsx|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The folder directly under main/ a file sits in; files at main/'s top level are the app's entry and settings. */
function folderOf(file: string): string | undefined {
  const rel = relative(main, file);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : `(${parts[0]})`;
}

/** Folder → folders it imports (static, re-exported, dynamic, and import.meta.url-relative worker URLs). */
export function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sources(main)) {
    const from = folderOf(file)!;
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
    for (const spec of specifiers) {
      const to = folderOf(resolve(dirname(file), spec));
      if (!to || to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${relative(root, file)} → ${spec}`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])]);
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

test('no import cycle between the folders of main/', () => {
  const graph = folderGraph();
  const found = cycles(graph);
  const explain = found.map((scc) => {
    const edges = scc.flatMap((a) => scc.filter((b) => graph.get(a)?.has(b)).map((b) => `    ${a} → ${b}: ${graph.get(a)!.get(b)}`));
    return `  {${scc.join(', ')}}\n${edges.join('\n')}`;
  });
  assert.deepEqual(found, [], `import cycles between main/ folders:\n${explain.join('\n')}`);
});

test('the cycle check sees a cycle when there is one', () => {
  // Guards the check itself: a graph with a → b → a must be reported.
  const g = new Map([
    ['a', new Map([['b', 'x']])],
    ['b', new Map([['a', 'y']])],
    ['c', new Map([['a', 'z']])],
  ]);
  assert.deepEqual(cycles(g), [['a', 'b']]);
});
