/**
 * The runtime's small pieces: the ONNX export cache (reused while model.json and the weights are
 * unchanged, redone when they change, written to the user's cache when the model folder refuses it),
 * the runtime setting parser and the per-worker thread split.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../main/detector/model.ts';
import { saveModel } from '../../main/detector/io.ts';
import { ONNX_FILE, ONNX_LOCK, ONNX_META, modelKey, onnxModelFor } from '../../main/detector/runtime/cache.ts';
import { parseRuntime } from '../../main/detector/runtime/index.ts';
import { threadsPerWorker } from '../../main/detector/runtime/threads.ts';
import { StudioError } from '../../preload/contract.ts';

await tf.setBackend('cpu');
tf.enableProdMode();
const root = mkdtempSync(join(tmpdir(), 'runtime-cache-'));
const savedHome = process.env.STUDIO_HOME;
process.env.STUDIO_HOME = join(root, 'home');
after(() => {
  if (savedHome === undefined) delete process.env.STUDIO_HOME;
  else process.env.STUDIO_HOME = savedHome;
  rmSync(root, { recursive: true, force: true });
});

test('the export is written next to model.json, reused while the weights are unchanged, and redone when they change', async () => {
  const dir = join(root, 'se');
  await saveModel(buildModel({ variant: 'se', inputSize: 32 }), dir, { name: 'se', variant: 'se', inputSize: 32 });
  const first = await onnxModelFor(dir);
  assert.equal(first.exported, true);
  assert.equal(first.path, join(dir, ONNX_FILE));
  assert.equal(first.meta.variant, 'se');
  // The lesion map, then the appearance score's features (an se model has no attention map to return).
  assert.deepEqual(first.meta.outputs.map((o) => o.name), ['lesion', 'stage3/out', 'stage4/out']);
  const again = await onnxModelFor(dir);
  assert.equal(again.exported, false);
  assert.equal(again.meta.key, first.meta.key);
  // Retrained: same topology, new weights → a new key and a fresh export.
  await saveModel(buildModel({ variant: 'se', inputSize: 32 }), dir);
  assert.notEqual(modelKey(dir), first.meta.key);
  const redone = await onnxModelFor(dir);
  assert.equal(redone.exported, true);
  assert.equal(JSON.parse(readFileSync(join(dir, ONNX_META), 'utf8')).key, modelKey(dir));
});

test('when the model folder cannot take the export it goes to <homeDir>/cache/onnx', async () => {
  const dir = join(root, 'ro');
  await saveModel(buildModel({ variant: 'baseline', inputSize: 32 }), dir, { name: 'ro', variant: 'baseline', inputSize: 32 });
  mkdirSync(join(dir, ONNX_FILE)); // a folder where the file would go: the write fails, as on a read-only folder
  const r = await onnxModelFor(dir);
  assert.equal(r.path, join(root, 'home', 'cache', 'onnx', `${r.meta.key}.onnx`));
  assert.ok(existsSync(r.path));
  assert.equal((await onnxModelFor(dir)).exported, false, 'the cached copy is found again');
});

test('workers asking for the same model at once export it once; the others wait and reuse it', async () => {
  const dir = join(root, 'race');
  await saveModel(buildModel({ variant: 'cbam', inputSize: 32 }), dir, { name: 'race', variant: 'cbam', inputSize: 32 });
  const all = await Promise.all([onnxModelFor(dir), onnxModelFor(dir), onnxModelFor(dir)]);
  assert.deepEqual(all.map((r) => r.exported).sort(), [false, false, true]);
  assert.ok(all.every((r) => r.meta.key === all[0].meta.key));
  assert.equal(existsSync(join(dir, ONNX_LOCK)), false, 'the lock is released');
});

test('a lock left by a crashed exporter is taken over once stale', async () => {
  const dir = join(root, 'stale');
  await saveModel(buildModel({ variant: 'baseline', inputSize: 32 }), dir, { name: 'stale', variant: 'baseline', inputSize: 32 });
  writeFileSync(join(dir, ONNX_LOCK), '1 0\n');
  const old = new Date(Date.now() - 5 * 60_000);
  utimesSync(join(dir, ONNX_LOCK), old, old);
  const r = await onnxModelFor(dir);
  assert.equal(r.exported, true);
  assert.equal(existsSync(join(dir, ONNX_LOCK)), false);
});

test('a folder without a model gives MODEL_LOAD_FAILED naming it', async () => {
  const dir = join(root, 'empty');
  mkdirSync(dir);
  await assert.rejects(onnxModelFor(dir), (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && e.message.includes(dir));
});

test('the runtime setting accepts auto, onnxruntime[-cpu|-cuda] and tfjs, and notes anything else', () => {
  assert.equal(parseRuntime(undefined).choice, 'auto');
  assert.equal(parseRuntime('ONNXRuntime-CUDA').choice, 'onnxruntime-cuda');
  assert.equal(parseRuntime('tfjs').choice, 'tfjs');
  const bad = parseRuntime('tensorrt');
  assert.equal(bad.choice, 'auto');
  assert.match(bad.notes[0], /unknown runtime 'tensorrt'/);
});

test('intra-op threads: one per worker when batch uses every core, up to 4 for a lone interactive worker', () => {
  assert.equal(threadsPerWorker(2, 2), 1);
  assert.equal(threadsPerWorker(1, 2), 2);
  assert.equal(threadsPerWorker(1, 16), 4);
  assert.equal(threadsPerWorker(8, 4), 1);
  assert.equal(threadsPerWorker(2, 8), 4);
});
