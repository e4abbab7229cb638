#!/usr/bin/env node
/**
 * Builds the optional native training kernels (main/detector/kernels/native/conv.c) into
 * build/native/studio_kernels.node, with the system C compiler and OpenBLAS (Debian: libopenblas-dev).
 *
 * Runs as the package's postinstall and never fails the install: without a compiler, Node's headers or
 * OpenBLAS it says what is missing and training runs on the wasm kernels. It links only N-API, so one
 * build serves Node and Electron alike. `--force` rebuilds even when the library is newer than the source.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'main/detector/kernels/native/conv.c');
const target = join(root, 'build/native/studio_kernels.node');
const say = (line) => process.stderr.write(`build-native: ${line}\n`);

function nodeHeaders() {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

function main() {
  if (process.env.STUDIO_NATIVE_KERNELS === 'off') return say('skipped (STUDIO_NATIVE_KERNELS=off)');
  if (process.platform === 'win32') return say('skipped: building needs a POSIX C toolchain; training uses the wasm kernels');
  if (!process.argv.includes('--force') && existsSync(target) && statSync(target).mtimeMs > statSync(source).mtimeMs) return say('up to date');
  const headers = nodeHeaders();
  if (!headers) return say("skipped: Node's C headers (node_api.h) not found; training uses the wasm kernels");
  const cc = process.env.CC ?? 'cc';
  mkdirSync(dirname(target), { recursive: true });
  // -march=native: the library is built on the machine that runs it; the generic build is the fallback.
  for (const arch of [['-march=native'], []]) {
    try {
      execFileSync(cc, ['-O3', ...arch, '-std=c11', '-fopenmp-simd', '-fPIC', '-shared', `-I${headers}`, source, '-o', target, '-lopenblas'], { stdio: ['ignore', 'ignore', 'pipe'] });
      return say(`built ${target.slice(root.length + 1)} (${cc} ${arch.join(' ') || 'generic'}, OpenBLAS)`);
    } catch (err) {
      if (arch.length) continue;
      const detail = String(err.stderr ?? err.message).split('\n').find((l) => /error|not found|cannot find/i.test(l)) ?? String(err.message);
      say(`skipped: ${detail.trim()} (needs a C compiler and OpenBLAS: apt-get install libopenblas-dev); training uses the wasm kernels`);
    }
  }
}

main();
