/**
 * onnxruntime serving the studio end to end: inference workers start it by default when it is installed,
 * say so in the backend report, return the same maps and findings as the TF.js workers, re-export a
 * retrained model, honour the runtime setting, report a CUDA request that cannot be met, and
 * `studio analyze` writes its documented files through it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../main/detector/model.ts';
import { saveModel } from '../../main/detector/io.ts';
import { DetectorEngine } from '../../main/detector/engine.ts';
import type { RawDetection } from '../../main/detector/tfjs-detector.ts';
import { analyze } from '../../main/batch/analyze.ts';
import { loadOrt } from '../../main/detector/runtime/ort.ts';
import { ONNX_FILE, ONNX_META } from '../../main/detector/runtime/cache.ts';
import { referenceData } from '../../main/settings.ts';
import { listImageFiles } from '../../main/imaging/index.ts';

await tf.setBackend('cpu');
tf.enableProdMode();
const skip = (await loadOrt()) ? false : 'onnxruntime-node is not installed (optional dependency)';
const root = mkdtempSync(join(tmpdir(), 'runtime-engine-'));
const nl = join(root, 'nl128');
await saveModel(buildModel({ variant: 'nonlocal', inputSize: 128 }), nl, { name: 'nl128', variant: 'nonlocal', inputSize: 128 });
const onnx = new DetectorEngine({ workers: 1 });
const tfjs = new DetectorEngine({ workers: 1, runtime: 'tfjs' });
after(async () => {
  await Promise.all([onnx.close(), tfjs.close()]);
  rmSync(root, { recursive: true, force: true });
});

function synthetic(width: number, height: number, seed = 1): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  return { width, height, data };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function assertSameDetection(a: RawDetection, b: RawDetection): void {
  assert.equal(a.variant, b.variant);
  assert.deepEqual([a.heatmap.width, a.heatmap.height], [b.heatmap.width, b.heatmap.height]);
  assert.ok(maxDiff(a.heatmap.data, b.heatmap.data) <= 1e-4, 'lesion map');
  assert.deepEqual(a.attention.map((m) => [m.name, m.kind, m.map.width, m.map.height]), b.attention.map((m) => [m.name, m.kind, m.map.width, m.map.height]));
  for (let i = 0; i < a.attention.length; i++) assert.ok(maxDiff(a.attention[i].map.data, b.attention[i].map.data) <= 1e-4, a.attention[i].name);
  assert.deepEqual(a.findings.map((f) => f.box), b.findings.map((f) => f.box));
}

test('by default the inference worker runs onnxruntime on the CPU provider and reports it', { skip }, async () => {
  const state = await onnx.backend();
  assert.equal(state.runtime, 'onnxruntime');
  assert.equal(state.backend, 'onnxruntime-cpu');
  assert.equal(state.gpu, false);
  assert.equal(state.threads >= 1, true);
  assert.ok(state.versions['onnxruntime-node']);
  assert.ok(state.notes.some((n) => /CPU execution provider/.test(n)));
});

test('onnxruntime workers return the TF.js workers\' lesion map, attention maps and findings', { skip }, async () => {
  const image = synthetic(300, 150, 5);
  const [a, b] = await Promise.all([onnx.detect(nl, image, { threshold: 0.04 }), tfjs.detect(nl, image, { threshold: 0.04 })]);
  assert.equal((await tfjs.backend()).runtime, 'tfjs');
  assert.equal(a.attention.length, 6);
  assert.deepEqual(a.attention.map((m) => [m.name, m.map.width, m.map.height]).at(-1), ['decoder/cbam_spatial8', 16, 8], 'the decoder gate, on its stride-8 grid over the 128×64 image region');
  assertSameDetection(a, b);
  assert.ok(existsSync(join(nl, ONNX_FILE)) && existsSync(join(nl, ONNX_META)), 'the export is cached next to model.json');
});

test('a retrained model (new weights in place) is re-exported and served with its new weights', { skip }, async () => {
  const dir = join(root, 'cbam64');
  const image = synthetic(90, 120, 9);
  await saveModel(buildModel({ variant: 'cbam', inputSize: 64 }), dir, { name: 'cbam64', variant: 'cbam', inputSize: 64 });
  const before = await onnx.detect(dir, image);
  const key = JSON.parse(readFileSync(join(dir, ONNX_META), 'utf8')).key;
  await saveModel(buildModel({ variant: 'cbam', inputSize: 64 }), dir);
  const [a, b] = await Promise.all([onnx.detect(dir, image), tfjs.detect(dir, image)]);
  assert.notEqual(JSON.parse(readFileSync(join(dir, ONNX_META), 'utf8')).key, key);
  assert.ok(maxDiff(before.attention[0].map.data, a.attention[0].map.data) > 1e-3, 'new weights, new maps');
  assertSameDetection(a, b);
});

test('a model with a layer the exporter cannot map is served by TF.js in the same worker instead of failing', { skip }, async () => {
  const dir = join(root, 'pooled');
  // The baseline backbone with a new head: 1×1 conv, then a (1×1, identity) MaxPooling2D, then the sigmoid.
  const base = buildModel({ variant: 'baseline', inputSize: 32 });
  const features = base.getLayer('decoder/refine4/relu').output as tf.SymbolicTensor;
  const logits = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'lesion_logits' }).apply(features) as tf.SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 1, strides: 1, name: 'pool' }).apply(logits) as tf.SymbolicTensor;
  const lesion = tf.layers.activation({ activation: 'sigmoid', name: 'lesion' }).apply(pooled) as tf.SymbolicTensor;
  const spliced = tf.model({ inputs: base.inputs, outputs: lesion });
  await saveModel(spliced, dir, { name: 'pooled', variant: 'baseline', inputSize: 32 });
  const image = synthetic(64, 64, 3);
  const [a, b] = await Promise.all([onnx.detect(dir, image), tfjs.detect(dir, image)]);
  assert.deepEqual([a.heatmap.width, a.heatmap.height], [8, 8]);
  assertSameDetection(a, b);
  assert.equal(existsSync(join(dir, ONNX_FILE)), false);
  // Once more: the failed export is remembered, not retried per image.
  assert.equal((await onnx.detect(dir, image)).heatmap.width, 8);
});

test('a damaged cached model.onnx is exported again instead of failing', { skip }, async () => {
  const dir = join(root, 'damaged');
  await saveModel(buildModel({ variant: 'se', inputSize: 64 }), dir, { name: 'damaged', variant: 'se', inputSize: 64 });
  const probe = new DetectorEngine({ workers: 1 });
  try {
    await probe.detect(dir, synthetic(64, 64, 4));
  } finally {
    await probe.close();
  }
  writeFileSync(join(dir, ONNX_FILE), 'not an onnx model');
  const fresh = new DetectorEngine({ workers: 1 });
  try {
    const [a, b] = await Promise.all([fresh.detect(dir, synthetic(64, 64, 4)), tfjs.detect(dir, synthetic(64, 64, 4))]);
    assertSameDetection(a, b);
    assert.ok(readFileSync(join(dir, ONNX_FILE)).length > 1000, 'model.onnx was written again');
  } finally {
    await fresh.close();
  }
});

test('runtime onnxruntime-cuda without the CUDA provider falls back to the CPU provider and says why', { skip }, async () => {
  const engine = new DetectorEngine({ workers: 1, runtime: 'onnxruntime-cuda' });
  try {
    const state = await engine.backend();
    assert.equal(state.backend, 'onnxruntime-cpu');
    assert.ok(state.notes.some((n) => /CUDA execution provider requested but libonnxruntime_providers_cuda is not installed/.test(n)), state.notes.join(' | '));
  } finally {
    await engine.close();
  }
});

test('studio analyze runs on onnxruntime and writes findings.json with its backend and the per-image PNGs', { skip }, async (t) => {
  const data = referenceData('kvasir-seg/images');
  if ('skip' in data) return t.skip(data.skip);
  const files = (await listImageFiles([data.dir])).files.sort().slice(0, 6);
  const dir = join(root, 'cbam128');
  await saveModel(buildModel({ variant: 'cbam', inputSize: 128 }), dir, { name: 'cbam128', variant: 'cbam', inputSize: 128 });
  const out = join(root, 'out');
  const summary = await analyze({ inputs: files, modelDir: dir, modelName: 'cbam128', out, workers: 2 });
  assert.equal(summary.analysed, 6);
  assert.equal(summary.backend, 'onnxruntime-cpu');
  const entries = JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8')) as { backend: string; outputs: Record<string, string> }[];
  assert.equal(entries.length, 6);
  for (const e of entries) {
    assert.equal(e.backend, 'onnxruntime-cpu');
    for (const f of Object.values(e.outputs)) assert.ok(existsSync(join(out, f)), f);
  }
});
