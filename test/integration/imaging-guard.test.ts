import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeFrameGuarded, guard, stopDecoder } from '../../main/imaging/codecs/guarded.ts';

const layout = { rows: 1, columns: 2, samplesPerPixel: 1, bitsAllocated: 8 };

test('a codec that never returns is stopped by the timeout, and the next frame gets a fresh decoder', async () => {
  const saved = { ...guard };
  guard.workerUrl = new URL('./imaging-hang-worker.mjs', import.meta.url);
  guard.timeoutMs = 1500;
  try {
    const started = performance.now();
    await assert.rejects(decodeFrameGuarded('hang', new Uint8Array([1, 2]), layout, 0, 'MONOCHROME2'), /did not finish within 2 s/);
    assert.ok(performance.now() - started < 10_000);
    const out = await decodeFrameGuarded('fine', new Uint8Array([7, 9]), layout, 0, 'MONOCHROME2');
    assert.equal(out.kind, 'native');
    assert.deepEqual(out.kind === 'native' ? [...out.bytes] : [], [7, 9]);
  } finally {
    Object.assign(guard, saved);
    await stopDecoder();
  }
});

test('codec errors come back from the decoder thread with their code', async () => {
  await assert.rejects(decodeFrameGuarded('1.2.3.4.5', new Uint8Array([1]), layout, 0, 'MONOCHROME2'), (e: unknown) => e instanceof Error && 'code' in e && e.code === 'UNSUPPORTED');
  await assert.rejects(decodeFrameGuarded('1.2.840.10008.1.2.5', new Uint8Array([1, 2, 3]), layout, 0, 'MONOCHROME2'), /shorter than its 64-byte header/);
  await stopDecoder();
});

test('when the decoder thread cannot start, frames decode in process', async () => {
  const saved = { ...guard };
  guard.workerUrl = new URL('./no-such-worker.mjs', import.meta.url);
  try {
    await stopDecoder();
    await assert.rejects(decodeFrameGuarded('1.2.840.10008.1.2.5', new Uint8Array([1, 2, 3]), layout, 0, 'MONOCHROME2'), /shorter than its 64-byte header/);
  } finally {
    Object.assign(guard, saved);
    await stopDecoder();
  }
});
