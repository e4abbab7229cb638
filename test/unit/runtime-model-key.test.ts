/**
 * The ONNX cache key of a hostile or broken model folder: it reads only weight files inside the folder
 * (a model.json naming /dev/zero, a FIFO or another model's files must not make the worker read them)
 * and a model.json that cannot be read is MODEL_LOAD_FAILED, not an internal error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelKey } from '../../main/detector/runtime/cache.ts';
import { StudioError } from '../../preload/contract.ts';

function folder(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'model-key-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

test('the model key does not read weight paths outside the model folder', (t) => {
  const root = folder(t);
  const dir = join(root, 'm');
  mkdirSync(dir);
  writeFileSync(join(root, 'outside.bin'), 'one');
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['../outside.bin', join(root, 'outside.bin')], weights: [] }] }));
  const before = modelKey(dir);
  writeFileSync(join(root, 'outside.bin'), 'two');
  assert.equal(modelKey(dir), before, 'the key changed with a file outside the model folder, so it was read');
});

test('a model.json that is a folder is MODEL_LOAD_FAILED', (t) => {
  const dir = join(folder(t), 'm');
  mkdirSync(join(dir, 'model.json'), { recursive: true });
  assert.throws(() => modelKey(dir), (err: unknown) => err instanceof StudioError && err.code === 'MODEL_LOAD_FAILED');
});

test('a weight path that is a folder, or a manifest of the wrong shape, does not throw an internal error', (t) => {
  const dir = join(folder(t), 'm');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['sub'], weights: [] }] }));
  assert.equal(typeof modelKey(dir), 'string');
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: { paths: 5 } }));
  assert.equal(typeof modelKey(dir), 'string');
});
