#!/usr/bin/env node
// `npm test [unit|integration|e2e]...`: one run of node's test runner over test/<kind>/**/*.test.ts, so the
// closing lines count every test. End-to-end tests drive the built renderer, so build it first.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];

function find(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(find(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

if (kinds.includes('e2e')) {
  const build = spawnSync(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('renderer build failed');
    process.exit(build.status ?? 1);
  }
}

const files = kinds.flatMap((k) => find(join(root, 'test', k)));
if (files.length === 0) {
  console.error(`no test files under test/{${kinds.join(',')}}`);
  process.exit(1);
}
// tsx takes its compile options (jsx above all) from tsconfig.json only for the files that one includes,
// and tsconfig.json is a solution file that includes none: give it the options the projects share.
const env = { ...process.env, STUDIO_TEST: '1', TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH ?? join(root, 'tsconfig.base.json') };
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=900000', ...files], { cwd: root, stdio: 'inherit', env });
process.exit(result.status ?? 1);
