/**
 * The ONNX exporter: for every variant, the exported model run on onnxruntime-node gives the lesion map
 * and every attention map of the TF.js inference model (cpu backend) within 1e-4, with the same output
 * names and order. Weights are randomised (BatchNorm statistics, non-local γ ≠ 0) so that every folded
 * constant and every attention path actually matters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { VARIANTS, buildInferenceModel, buildModel, foldBatchNorm, type Variant } from '../../main/detector/model.ts';
import { exportOnnx } from '../../main/detector/runtime/onnx/export.ts';
import { loadOrt } from '../../main/detector/runtime/ort.ts';
import { readFields } from '../../main/detector/runtime/onnx/proto.ts';

await tf.setBackend('cpu');
tf.enableProdMode();
const ortLoaded = await loadOrt();
const skip = ortLoaded ? false : 'onnxruntime-node is not installed (optional dependency)';

/** Deterministic pseudo-random weights with the scales a trained net has. */
function randomise(model: tf.LayersModel, seed: number): void {
  let s = seed;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (const layer of model.layers) {
    if (!layer.weights.length) continue;
    layer.setWeights(
      layer.weights.map((w) => {
        const n = w.originalName;
        const size = (w.shape as number[]).reduce((a, b) => a * b, 1);
        const data = new Float32Array(size);
        const shape = w.shape as number[];
        const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
        for (let i = 0; i < size; i++) {
          const u = rnd() * 2 - 1;
          if (n.endsWith('moving_variance')) data[i] = 0.3 + 2 * rnd();
          else if (n.endsWith('/gamma') && w.shape.length === 1 && size > 1) data[i] = 0.5 + rnd();
          else if (n.endsWith('nonlocal/gamma')) data[i] = 0.7;
          // Query/key projections large enough that the softmax is far from uniform.
          else if (/nonlocal_attention\/w[qk]$/.test(n)) data[i] = 40 * u * Math.sqrt(6 / fanIn);
          else if (w.shape.length > 1) data[i] = u * Math.sqrt(6 / fanIn);
          else data[i] = 0.3 * u;
        }
        return tf.tensor(data, shape);
      }),
    );
  }
}

async function compare(variant: Variant, size: number, batch: number, exportFolded = false): Promise<void> {
  const { ort } = ortLoaded!;
  const trained = buildModel({ variant, inputSize: size });
  randomise(trained, 7 + size);
  const { model, outputs } = buildInferenceModel(trained);
  const input = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 3);
  const expected = [model.predict(input)].flat() as tf.Tensor[];
  // The detector's inference form (BatchNorm folded, ReLU fused into the conv) must export to the same thing.
  const source = exportFolded ? foldBatchNorm(trained) : trained;
  const exported = exportOnnx(source);
  if (source !== trained) source.dispose();
  assert.deepEqual(exported.outputs.map((o) => o.name), outputs.map((o) => o.name), 'same outputs in the same order');
  const session = await ort.InferenceSession.create(exported.bytes, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  try {
    assert.deepEqual(session.outputNames, outputs.map((o) => o.name));
    const got = await session.run({ [exported.input.name]: new ort.Tensor('float32', input.dataSync() as Float32Array, [batch, size, size, 3]) });
    for (let i = 0; i < outputs.length; i++) {
      const name = outputs[i].name;
      const want = expected[i].dataSync();
      const have = got[name].data as Float32Array;
      assert.deepEqual([...got[name].dims], expected[i].shape, `${variant} ${name} shape`);
      let worst = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let j = 0; j < want.length; j++) {
        worst = Math.max(worst, Math.abs(want[j] - have[j]));
        min = Math.min(min, want[j]);
        max = Math.max(max, want[j]);
      }
      assert.ok(worst <= 1e-4, `${variant} ${name}: max |tfjs − onnxruntime| = ${worst.toExponential(2)} > 1e-4`);
      // A saturated or constant map would make the comparison vacuous.
      // (for the affinity: some weights differ from the uniform 1/positions by more than that value).
      const spread = outputs[i].kind === 'nonlocal' ? 1 / expected[i].shape[2]! : 0.05;
      assert.ok(max - min > spread, `${variant} ${name}: map spans only [${min}, ${max}]`);
    }
  } finally {
    await session.release();
    tf.dispose([input, ...expected]);
    trained.dispose();
  }
}

for (const variant of VARIANTS) {
  test(`${variant}: the ONNX export gives the TF.js lesion and attention maps within 1e-4 (batch of 2, 64²)`, { skip }, async () => {
    await compare(variant, 64, 2);
  });
}

test('nonlocal at 128²: the non-local affinity rows and every spatial map still match within 1e-4', { skip }, async () => {
  await compare('nonlocal', 128, 1);
});

test('the detector\'s folded inference network (conv + fused ReLU layers) exports to the same maps within 1e-4', { skip }, async () => {
  await compare('nonlocal', 64, 1, true);
});

test('the ModelProto declares IR 8, opset 17 and the NHWC image input with a symbolic batch', () => {
  const exported = exportOnnx(buildModel({ variant: 'se', inputSize: 32 }));
  const top = readFields(exported.bytes);
  assert.equal(top.find((f) => f.field === 1)?.value, 8n);
  const opset = readFields(top.find((f) => f.field === 8)!.value as Uint8Array);
  assert.equal(opset.find((f) => f.field === 2)?.value, 17n);
  assert.deepEqual(exported.input, { name: 'image', shape: ['batch', 32, 32, 3] });
  assert.deepEqual(exported.outputs, [
    { name: 'lesion', kind: 'lesion', shape: ['batch', 8, 8, 1] },
    { name: 'stage3/out', kind: 'features', shape: ['batch', 4, 4, 64] },
    { name: 'stage4/out', kind: 'features', shape: ['batch', 2, 2, 96] },
  ]);
});

test('a layer the exporter does not know is refused with its name and class', () => {
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: 'sigmoid', name: 'lesion' }).apply(pooled) as tf.SymbolicTensor;
  assert.throws(() => exportOnnx(tf.model({ inputs: input, outputs: out })), /pool of class MaxPooling2D/);
});
