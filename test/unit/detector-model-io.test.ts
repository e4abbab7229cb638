/**
 * Loading a model folder never reads weights from outside it, even through a sibling folder whose name
 * starts with the model's own (models/foo → models/foo-other).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirHandler } from '../../main/detector/io.ts';
import { StudioError } from '../../preload/contract.ts';

test('a weights path that escapes into a sibling folder sharing the name prefix is refused', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'model-io-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const model = join(root, 'foo');
  const sibling = join(root, 'foo-other');
  mkdirSync(model);
  mkdirSync(sibling);
  writeFileSync(join(sibling, 'secret.bin'), new Uint8Array(4));
  writeFileSync(
    join(model, 'model.json'),
    JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['../foo-other/secret.bin'], weights: [{ name: 'w', shape: [1], dtype: 'float32' }] }] }),
  );
  await assert.rejects(dirHandler(model).load!(), (err: unknown) => err instanceof StudioError && err.code === 'MODEL_LOAD_FAILED' && /escapes/.test(err.message));
});

test('a weights file that links to a device is refused without reading it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'model-io-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { symlinkSync } = await import('node:fs');
  symlinkSync('/dev/zero', join(root, 'weights.bin'));
  writeFileSync(join(root, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [1], dtype: 'float32' }] }] }));
  await assert.rejects(dirHandler(root).load!(), (err: unknown) => err instanceof StudioError && err.code === 'MODEL_LOAD_FAILED' && /not a regular file/.test(err.message));
});
