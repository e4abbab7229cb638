/**
 * Issue 25, item 1: the hostile files whose segmented palette LUT nests indirect segments (../shared/data/
 * hostile/dicom/HANG-* and SLOW-palette-*) froze the process for good (108 KB) or for 1.85 s (4 KB). Each
 * must now fail within milliseconds with a typed error naming the file. Decoding runs in a worker so the
 * old behaviour fails the test (the worker is stopped) instead of hanging it.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { Worker } from 'node:worker_threads';
import { referenceData } from '../../main/settings.ts';
import type { WorkerReply } from './imaging-corpus-worker.ts';

const data = referenceData('hostile/dicom');
const skip = 'skip' in data ? `${data.skip} (the hostile reproducers of issue 25)` : false;

function startWorker(): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./imaging-corpus-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
}

/** Opens `path` in a fresh worker; gives up (and stops the worker) after `limitMs`. */
async function openInWorker(path: string, limitMs: number): Promise<{ reply?: WorkerReply; ms: number }> {
  const worker = startWorker();
  try {
    // The worker's start (tsx, sharp, codecs) is not what is measured: warm it up on a missing file first.
    await new Promise<void>((resolve) => {
      worker.once('message', () => resolve());
      worker.postMessage({ id: -1, path: join(path, 'no-such-file') });
    });
    const started = performance.now();
    const reply = await new Promise<WorkerReply | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), limitMs);
      worker.once('message', (r: WorkerReply) => {
        clearTimeout(timer);
        resolve(r);
      });
      worker.postMessage({ id: 1, path });
    });
    return { reply, ms: performance.now() - started };
  } finally {
    await worker.terminate();
  }
}

test('segmented palette LUTs with nested indirect segments fail fast with a typed error', { skip, timeout: 60_000 }, async (t) => {
  if ('skip' in data) return;
  const files = readdirSync(data.dir).filter((f) => /^(HANG|SLOW)-palette/.test(f));
  assert.ok(files.length >= 2, `expected the HANG- and SLOW-palette reproducers in ${data.dir}`);
  for (const file of files) {
    const path = join(data.dir, file);
    const { reply, ms } = await openInWorker(path, 5_000);
    assert.ok(reply, `${file}: still expanding its palette after 5 s (the worker was stopped)`);
    t.diagnostic(`${file}: ${reply.ok ? 'opened' : `${reply.code}: ${reply.message}`} in ${ms.toFixed(0)} ms`);
    assert.ok(ms < 1_000, `${file}: took ${ms.toFixed(0)} ms`);
    assert.equal(reply.ok, false);
    assert.equal(reply.code, 'DECODE_FAILED');
    assert.ok(reply.message?.includes(path), `the error names the file: ${reply.message}`);
    assert.match(reply.message ?? '', /Segmented Palette Color LUT: .*not yet defined/);
  }
});
