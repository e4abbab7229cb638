/**
 * The detector's model family: shapes of every output, attention maps per module, save/load round trip
 * through the project's IOHandler, clear errors for broken model folders, and the trainability rules
 * (no MaxPool/resize ops; the pixel-shuffle upsampler's gradient is exact).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DECODER_GATE, DEFAULT_WIDTHS, VARIANTS, atInputSize, attentionLayerNames, buildInferenceModel, buildModel, lastSpatialGate, foldBatchNorm, modelConfigOf, modelFlops, withDecoderGate } from '../../main/detector/model.ts';
import { findingThreshold, loadModel, readCard, saveModel, listModels } from '../../main/detector/io.ts';
import { SpatialAttentionMap, pixelShuffle } from '../../main/detector/layers/index.ts';
import { StudioError } from '../../preload/contract.ts';

await tf.setBackend('cpu');
tf.enableProdMode();
const S = 64;
const tmp = mkdtempSync(join(tmpdir(), 'detector-model-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const EXPECTED_ATTENTION: Record<string, string[]> = {
  baseline: [],
  se: [],
  cbam: ['stage1/cbam_spatial', 'stage2/cbam_spatial', 'stage3/cbam_spatial', 'stage4/cbam_spatial', 'decoder/cbam_spatial8'],
  nonlocal: ['stage1/cbam_spatial', 'stage2/cbam_spatial', 'stage3/cbam_spatial', 'stage4/cbam_spatial', 'stage4/nonlocal_attention', 'decoder/cbam_spatial8'],
};

for (const variant of VARIANTS) {
  test(`${variant}: lesion map is [N, S/4, S/4, 1] in (0, 1) and every attention module has an output of the documented shape`, () => {
    const model = buildModel({ variant, inputSize: S });
    const x = tf.randomUniform([2, S, S, 3]);
    const lesion = model.predict(x) as tf.Tensor;
    assert.deepEqual(lesion.shape, [2, S / 4, S / 4, 1]);
    const v = lesion.dataSync();
    assert.ok(v.every((p) => p > 0 && p < 1));
    const names = attentionLayerNames(model).map((a) => a.name);
    assert.deepEqual(names, EXPECTED_ATTENTION[variant]);
    const { model: inference, outputs } = buildInferenceModel(model);
    const outs = [inference.predict(x)].flat() as tf.Tensor[];
    assert.equal(outs.length, 1 + names.length + 2);
    assert.deepEqual(outputs.map((o) => o.name), ['lesion', ...names, 'stage3/out', 'stage4/out']);
    outs.forEach((t, i) => {
      const name = outputs[i].name;
      if (name === 'lesion') assert.deepEqual(t.shape, [2, S / 4, S / 4, 1]);
      else if (outputs[i].kind === 'spatial') {
        const stride = name === 'decoder/cbam_spatial8' ? 8 : 2 ** Number(/stage(\d)/.exec(name)![1]);
        assert.deepEqual(t.shape, [2, S / stride, S / stride, 1], name);
      } else if (outputs[i].kind === 'features') {
        // the appearance score's features: the stage's own output, at its stride and width
        const stage = Number(/stage(\d)/.exec(name)![1]);
        assert.deepEqual(t.shape, [2, S / 2 ** stage, S / 2 ** stage, DEFAULT_WIDTHS[stage - 1]], name);
      } else {
        const side = S / 16;
        assert.deepEqual(t.shape, [2, side * side, side * side], name);
        // each row of the affinity matrix is a softmax: sums to 1
        const rows = tf.sum(t, -1).dataSync();
        assert.ok(rows.every((r) => Math.abs(r - 1) < 1e-4));
      }
    });
    tf.dispose([x, lesion, ...outs]);
    model.dispose();
  });

  test(`${variant}: save and load through the disk IOHandler gives identical outputs`, async () => {
    const model = buildModel({ variant, inputSize: S });
    // make BN statistics non-trivial so a lost weight would show
    for (const w of model.weights) if (w.name.includes('moving_mean')) w.write(tf.randomNormal(w.shape as number[], 0, 0.1));
    const dir = join(tmp, variant);
    await saveModel(model, dir, { name: variant, variant, inputSize: S });
    const loaded = await loadModel(dir);
    assert.equal(readCard(dir).variant, variant);
    const x = tf.randomUniform([1, S, S, 3]);
    const a = [buildInferenceModel(model).model.predict(x)].flat() as tf.Tensor[];
    const b = [buildInferenceModel(loaded).model.predict(x)].flat() as tf.Tensor[];
    assert.equal(a.length, b.length);
    a.forEach((t, i) => assert.deepEqual(Array.from(t.dataSync()), Array.from(b[i].dataSync())));
    tf.dispose([x, ...a, ...b]);
  });
}

test('folding BatchNorm into the convolutions keeps every output (lesion and attention maps) within 1e-4', () => {
  for (const variant of ['cbam', 'nonlocal'] as const) {
    const model = buildModel({ variant, inputSize: S, widths: [8, 16, 24, 32] });
    for (const w of model.weights) if (w.name.includes('/bn/')) w.write(tf.randomUniform(w.shape as number[], 0.5, 1.5));
    const folded = foldBatchNorm(model);
    assert.deepEqual(modelConfigOf(folded), { variant, inputSize: S, widths: [8, 16, 24, 32], decoderWidth: 24, decoderGate: true });
    assert.ok(!folded.layers.some((l) => l.getClassName() === 'BatchNormalization'));
    const x = tf.randomUniform([1, S, S, 3]);
    const a = [buildInferenceModel(model).model.predict(x)].flat() as tf.Tensor[];
    const b = [buildInferenceModel(folded).model.predict(x)].flat() as tf.Tensor[];
    a.forEach((t, i) => assert.ok(tf.max(tf.abs(tf.sub(t, b[i]))).dataSync()[0] < 1e-4, `${variant} output ${i}`));
  }
});

test('a trained network rebuilt at another input size keeps every weight and runs at that size', () => {
  for (const variant of ['cbam', 'nonlocal'] as const) {
    const model = buildModel({ variant, inputSize: 32, widths: [8, 16, 24, 32] });
    for (const w of model.weights) if (w.name.includes('/bn/')) w.write(tf.randomUniform(w.shape as number[], 0.5, 1.5));
    const big = atInputSize(model, 64);
    assert.deepEqual(modelConfigOf(big), { variant, inputSize: 64, widths: [8, 16, 24, 32], decoderWidth: 24, decoderGate: true });
    const a = model.getWeights();
    const b = big.getWeights();
    assert.equal(a.length, b.length);
    a.forEach((t, i) => assert.deepEqual(Array.from(t.dataSync()), Array.from(b[i].dataSync()), `weight ${i}`));
    // Rebuilt at its own size it is the same function; at 64² it gives a 16² map.
    const same = atInputSize(model, 32);
    const x = tf.randomUniform([1, 32, 32, 3]);
    const [p, q] = [model.predict(x) as tf.Tensor, same.predict(x) as tf.Tensor];
    assert.deepEqual(Array.from(p.dataSync()), Array.from(q.dataSync()));
    const large = big.predict(tf.randomUniform([1, 64, 64, 3])) as tf.Tensor;
    assert.deepEqual(large.shape, [1, 16, 16, 1]);
    assert.ok(Array.from(large.dataSync()).every(Number.isFinite));
    tf.dispose([x, p, q, large]);
    [big, same, model].forEach((m) => m.dispose());
  }
  assert.throws(() => atInputSize(buildModel({ variant: 'cbam', inputSize: 32 }), 40), /multiple of 16/);
});

test('a model trained before the decoder gate keeps its architecture when folded or resized, and gains the gate when upgraded, as the same function as before with every other weight kept', () => {
  const old = buildModel({ variant: 'cbam', inputSize: 32, widths: [8, 16, 24, 32], decoderGate: false });
  for (const w of old.weights) if (w.name.includes('/bn/')) w.write(tf.randomUniform(w.shape as number[], 0.5, 1.5));
  assert.equal(modelConfigOf(old).decoderGate, false);
  assert.ok(!attentionLayerNames(old).some((a) => a.name === DECODER_GATE));
  // Folding or resizing an old model must not add an untrained gate to it.
  const x = tf.randomUniform([1, 32, 32, 3]);
  const folded = foldBatchNorm(old);
  assert.equal(modelConfigOf(folded).decoderGate, false);
  const diff = tf.max(tf.abs(tf.sub(old.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor))).dataSync()[0];
  assert.ok(diff < 1e-4, `folded old model differs by ${diff}`);
  assert.equal(modelConfigOf(atInputSize(old, 64)).decoderGate, false);

  const upgraded = withDecoderGate(old);
  assert.equal(modelConfigOf(upgraded).decoderGate, true);
  assert.equal(lastSpatialGate(upgraded), DECODER_GATE);
  for (const layer of old.layers) {
    const a = layer.getWeights();
    const b = upgraded.getLayer(layer.name).getWeights();
    assert.equal(a.length, b.length, layer.name);
    // The conv fed by the new gate carries its kernel doubled, to undo the gate's initial 0.5.
    const scale = (i: number) => (layer.name === 'decoder/expand8' && i === 0 ? 2 : 1);
    a.forEach((t, i) => assert.deepEqual(Array.from(b[i].dataSync()), Array.from(t.dataSync()).map((v) => v * scale(i)), `${layer.name} weight ${i}`));
  }
  // So the upgrade predicts exactly what the base did, and its gate still learns from there.
  const before = old.predict(x) as tf.Tensor;
  const after = upgraded.predict(x) as tf.Tensor;
  const change = tf.max(tf.abs(tf.sub(before, after))).dataSync()[0];
  assert.ok(change < 1e-5, `the upgraded model's lesion map differs from its base's by ${change}`);
  const gateOut = tf.model({ inputs: upgraded.inputs, outputs: upgraded.getLayer(DECODER_GATE).output as tf.SymbolicTensor }).predict(x) as tf.Tensor;
  assert.deepEqual([...new Set(gateOut.dataSync())], [0.5], 'the fresh gate is 0.5 on every cell');
  const weight = tf.randomUniform(after.shape);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(upgraded.apply(x) as tf.Tensor, weight)) as tf.Scalar);
  const gateKernel = Object.entries(grads).find(([k]) => k.startsWith(`${DECODER_GATE}/kernel`))?.[1];
  assert.ok(gateKernel && tf.max(tf.abs(gateKernel)).dataSync()[0] > 0, 'the zero-initialised gate kernel gets a gradient');
  tf.dispose([before, after, gateOut, weight, value, ...Object.values(grads)]);
  const fresh = buildModel({ variant: 'cbam', inputSize: 32, widths: [8, 16, 24, 32] });
  assert.equal(withDecoderGate(fresh), fresh, 'a model that has the gate is returned as it is');
  const baseline = buildModel({ variant: 'baseline', inputSize: 32 });
  assert.equal(withDecoderGate(baseline), baseline, 'a variant without spatial gates gets none');
  assert.equal(modelConfigOf(baseline).decoderGate, false);
  tf.dispose(x);
  [old, folded, upgraded, fresh, baseline].forEach((m) => m.dispose());
});

test('the spatial attention map is σ(conv7×7([mean_c; max_c]) + b), as in CBAM', () => {
  const layer = new SpatialAttentionMap({ name: 'probe_spatial' });
  const x = tf.randomNormal([2, 12, 10, 5]) as tf.Tensor4D;
  const got = layer.apply(x) as tf.Tensor;
  const [kernel, bias] = layer.getWeights();
  const pooled = tf.concat([tf.mean(x, 3, true), tf.max(x, 3, true)], 3) as tf.Tensor4D;
  const want = tf.sigmoid(tf.add(tf.conv2d(pooled, kernel as tf.Tensor4D, 1, 'same'), bias));
  assert.deepEqual(got.shape, [2, 12, 10, 1]);
  assert.ok(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] < 1e-5);
});

test('no variant uses MaxPool, UpSampling2D or resize layers (their gradients are wrong or missing on wasm/cpu)', () => {
  for (const variant of VARIANTS) {
    const classes = buildModel({ variant, inputSize: S }).layers.map((l) => l.getClassName());
    for (const bad of ['MaxPooling2D', 'UpSampling2D', 'Resizing']) assert.ok(!classes.includes(bad), `${variant} uses ${bad}`);
  }
});

test('model FLOPs at 256² are in the 0.3–0.6 GFLOP budget the speed targets need', () => {
  for (const variant of VARIANTS) {
    const g = modelFlops(buildModel({ variant, inputSize: 256 })) / 1e9;
    assert.ok(g > 0.3 && g < 0.6, `${variant}: ${g} GFLOP`);
  }
});

test('pixelShuffle puts channel block (i, j) at sub-pixel (i, j)', () => {
  // one pixel, 4 channels (C = 1): channel k = i*2 + j → output pixel (i, j)
  const out = pixelShuffle(tf.tensor4d([10, 11, 12, 13], [1, 1, 1, 4]), 2);
  assert.deepEqual(out.shape, [1, 2, 2, 1]);
  assert.deepEqual(Array.from(out.dataSync()), [10, 11, 12, 13]);
});

test('pixelShuffle gradient matches central finite differences on the cpu backend', () => {
  const x = tf.randomNormal([2, 3, 3, 8]) as tf.Tensor4D;
  const w = tf.randomNormal([2, 6, 6, 2]);
  const f = (t: tf.Tensor4D) => tf.sum(tf.mul(pixelShuffle(t, 2), w)) as tf.Scalar;
  const g = tf.grad(f as (t: tf.Tensor) => tf.Tensor)(x).dataSync();
  const xd = x.dataSync();
  const eps = 1e-2;
  for (let i = 0; i < xd.length; i += 5) {
    const plus = Float32Array.from(xd);
    plus[i] += eps;
    const minus = Float32Array.from(xd);
    minus[i] -= eps;
    const fd = (f(tf.tensor4d(plus, x.shape)).dataSync()[0] - f(tf.tensor4d(minus, x.shape)).dataSync()[0]) / (2 * eps);
    assert.ok(Math.abs(fd - g[i]) < 1e-3, `element ${i}: analytic ${g[i]} vs numeric ${fd}`);
  }
});

test('the non-local block starts as the identity (γ = 0) and its Q/K/V weights get gradients once γ ≠ 0', () => {
  const model = buildModel({ variant: 'nonlocal', inputSize: S });
  const block = model.getLayer('stage4/nonlocal');
  const x = tf.randomUniform([2, S, S, 3]);
  const probe = tf.model({ inputs: model.inputs, outputs: [model.getLayer('stage4/cbam_apply').output as tf.SymbolicTensor, block.output as tf.SymbolicTensor] });
  const [before, after] = probe.predict(x) as tf.Tensor[];
  assert.ok(tf.max(tf.abs(tf.sub(before, after))).dataSync()[0] === 0);
  const gamma = block.weights.find((w) => /gamma/.test(w.name))!;
  gamma.write(tf.tensor1d([0.5]));
  const { grads } = tf.variableGrads(() => tf.mean(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
  for (const name of ['stage4/nonlocal_attention/wq', 'stage4/nonlocal_attention/wk', 'stage4/nonlocal/wv', 'stage4/nonlocal/wo']) {
    const key = Object.keys(grads).find((k) => k.startsWith(name))!;
    assert.ok(key, `no gradient for ${name}`);
    assert.ok(tf.max(tf.abs(grads[key])).dataSync()[0] > 0, `${name} gradient is zero`);
  }
});

test('every variable of every variant gets a gradient in a training step (cbam, no dead paths)', () => {
  const model = buildModel({ variant: 'cbam', inputSize: S });
  const x = tf.randomUniform([2, S, S, 3]);
  const { grads } = tf.variableGrads(() => tf.mean(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
  const zero = Object.entries(grads).filter(([, g]) => tf.max(tf.abs(g)).dataSync()[0] === 0).map(([k]) => k);
  assert.deepEqual(zero, []);
});

test('a model folder that cannot load gives MODEL_LOAD_FAILED with the reason', async () => {
  const missing = join(tmp, 'nothing-here');
  await assert.rejects(loadModel(missing), (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && /model\.json/.test(e.message));

  const garbage = join(tmp, 'garbage');
  mkdirSync(garbage, { recursive: true });
  writeFileSync(join(garbage, 'model.json'), '{ not json');
  await assert.rejects(loadModel(garbage), (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && /not valid JSON/.test(e.message));

  const truncated = join(tmp, 'truncated');
  await saveModel(buildModel({ variant: 'baseline', inputSize: S }), truncated);
  const w = readFileSync(join(truncated, 'weights.bin'));
  writeFileSync(join(truncated, 'weights.bin'), w.subarray(0, w.length - 100));
  await assert.rejects(loadModel(truncated), (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && /truncated/.test(e.message));

  const badTopology = join(tmp, 'bad-topology');
  await saveModel(buildModel({ variant: 'baseline', inputSize: S }), badTopology);
  const json = JSON.parse(readFileSync(join(badTopology, 'model.json'), 'utf8'));
  json.modelTopology.config.layers[3].class_name = 'NoSuchLayer';
  writeFileSync(join(badTopology, 'model.json'), JSON.stringify(json));
  await assert.rejects(loadModel(badTopology), (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && /NoSuchLayer/.test(e.message));
});

test('listModels lists folders with a valid card and reports broken cards without failing', async () => {
  const dir = join(tmp, 'models-list');
  await saveModel(buildModel({ variant: 'se', inputSize: S }), join(dir, 'good'), { name: 'good', variant: 'se', inputSize: S, metrics: { dice: 0.5 } });
  mkdirSync(join(dir, 'broken'), { recursive: true });
  writeFileSync(join(dir, 'broken', 'card.json'), '{"variant":"nope"}');
  const errors: string[] = [];
  const models = listModels(dir, (m) => errors.push(m));
  assert.deepEqual(models.map((m) => [m.name, m.variant, m.inputSize]), [['good', 'se', S]]);
  assert.equal((models[0].card.metrics as { dice: number }).dice, 0.5);
  assert.equal(errors.length, 1);
});

test('a card that does not parse stops the model loading with MODEL_LOAD_FAILED naming the field, and an invalid card is never written', async () => {
  const { TfjsDetector } = await import('../../main/detector/tfjs-detector.ts');
  const { readCard, writeCard } = await import('../../main/detector/io.ts');
  const dir = join(tmp, 'bad-card');
  await saveModel(buildModel({ variant: 'baseline', inputSize: S }), dir, { name: 'bad-card', variant: 'baseline', inputSize: S });
  // A hand-edited card: a threshold of 7 would cut every finding, silently, at the first request.
  writeFileSync(join(dir, 'card.json'), JSON.stringify({ name: 'bad-card', variant: 'baseline', inputSize: S, candidateThreshold: 7 }));
  const refused = (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && /candidateThreshold/.test(e.message);
  await assert.rejects(TfjsDetector.load(dir), refused);
  assert.throws(() => readCard(dir), refused);
  assert.throws(() => writeCard(dir, { name: 'x', variant: 'baseline', inputSize: S, flips: 'sideways' as 'h' }), /invalid model card.*flips/);
});

test('findings default to the card\'s validation-calibrated candidate threshold, else 0.5; a chosen threshold wins', () => {
  const calibrated = mkdtempSync(join(tmpdir(), 'card-'));
  writeFileSync(join(calibrated, 'card.json'), JSON.stringify({ variant: 'cbam', inputSize: 64, candidateThreshold: 0.7 }));
  const uncalibrated = mkdtempSync(join(tmpdir(), 'card-'));
  writeFileSync(join(uncalibrated, 'card.json'), JSON.stringify({ variant: 'cbam', inputSize: 64, candidateThreshold: 'high' }));
  assert.equal(findingThreshold(calibrated), 0.7);
  assert.equal(findingThreshold(calibrated, 0.3), 0.3);
  assert.equal(findingThreshold(calibrated, 0), 0);
  assert.equal(findingThreshold(uncalibrated), 0.5);
  assert.equal(findingThreshold(join(calibrated, 'missing')), 0.5);
});
