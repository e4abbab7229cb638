/**
 * Closing the detector engine settles every request it holds: a caller waiting on the backend or on a
 * detection when the studio shuts down gets CANCELLED instead of a promise that never settles (which
 * keeps the CLI and the host from exiting and leaks the caller's memory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectorEngine } from '../../main/detector/engine.ts';
import { saveModel } from '../../main/detector/io.ts';
import { buildModel } from '../../main/detector/model.ts';
import { StudioError } from '../../preload/contract.ts';

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('a backend() call still waiting on worker start-up is rejected as CANCELLED when the engine closes', async () => {
  const engine = new DetectorEngine({ workers: 1, runtime: 'tfjs' });
  const waiting = engine.backend();
  await engine.close();
  await assert.rejects(within(waiting, 5_000), (err: unknown) => err instanceof StudioError && err.code === 'CANCELLED');
});

test('a detection in flight in a worker is rejected as CANCELLED when the engine closes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-close-'));
  try {
    await saveModel(buildModel({ variant: 'cbam', inputSize: 256 }), dir, { name: 'close', variant: 'cbam', inputSize: 256 });
    const engine = new DetectorEngine({ workers: 1, runtime: 'tfjs' });
    await engine.backend();
    // A real model and a large image keep the worker busy (loading, letterboxing, inference) for far longer
    // than close takes, so the request is genuinely held by the worker when the engine closes. (A missing
    // model folder was answered so fast that the reply sometimes beat close.)
    const image = { width: 2048, height: 2048, data: new Uint8Array(2048 * 2048 * 3) };
    const inFlight = engine.detect(dir, image);
    await new Promise((r) => setImmediate(r));
    await engine.close();
    await assert.rejects(within(inFlight, 5_000), (err: unknown) => err instanceof StudioError && err.code === 'CANCELLED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
