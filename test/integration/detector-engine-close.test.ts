/**
 * Closing the detector engine settles every request it holds: a caller waiting on the backend or on a
 * detection when the studio shuts down gets CANCELLED instead of a promise that never settles (which
 * keeps the CLI and the host from exiting and leaks the caller's memory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectorEngine } from '../../main/detector/engine.ts';
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
  const engine = new DetectorEngine({ workers: 1, runtime: 'tfjs' });
  await engine.backend();
  const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
  // The model dir does not matter: close comes before the worker could answer.
  const inFlight = engine.detect('/nonexistent-model-dir', image);
  await new Promise((r) => setImmediate(r));
  await engine.close();
  await assert.rejects(within(inFlight, 5_000), (err: unknown) => err instanceof StudioError && err.code === 'CANCELLED');
});
