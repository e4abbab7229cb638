/**
 * The training objective's attention supervision: the gate target is the mask pooled to the gate's
 * resolution, the term is added with its weight to the lesion loss (and only for variants with a spatial
 * gate), its gradients on wasm equal cpu's, it leaks no tensors, and it actually teaches the supervised gate
 * to point at the lesion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildModel, DECODER_GATE, LESION_OUTPUT } from '../../main/detector/model.ts';
import { useBackend } from '../../main/training/backend.ts';
import { attentionLoss, lesionLoss, pointingLoss } from '../../main/training/loss.ts';
import { detectorObjective, gateSupervision, supervisedGate } from '../../main/training/objective.ts';
import { settleBatchNormQuickly } from '../../main/training/trainer.ts';
import { onBackend, values } from './tensor-helpers.ts';

await useBackend('wasm');

/** Pseudo-random values in [0, 1). */
const uniform = (n: number, seed: number) => values(n, seed).map((v) => v + 0.5);

const scalar = (t: tf.Scalar) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

test('attention loss compares the gate with the mask averaged over each gate cell', () => {
  // A 4×4 target pooled by 2 gives [[1, 0.5], [0, 0.25]]; BCE against a gate of exactly those values is
  // the target's own entropy, and any other gate scores higher.
  const target = tf.tensor4d([1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0], [1, 4, 4, 1]);
  const pooled = [1, 0.5, 0, 0.25];
  const entropy = -pooled.reduce((s, t) => s + (t > 0 ? t * Math.log(t) : 0) + (t < 1 ? (1 - t) * Math.log(1 - t) : 0), 0) / 4;
  const exact = scalar(attentionLoss(tf.tensor4d(pooled, [1, 2, 2, 1]), target));
  assert.ok(Math.abs(exact - entropy) < 1e-4, `${exact} vs entropy ${entropy}`);
  const off = scalar(attentionLoss(tf.tensor4d([0.6, 0.5, 0.4, 0.25], [1, 2, 2, 1]), target));
  const inverted = scalar(attentionLoss(tf.tensor4d(pooled.map((t) => 1 - t), [1, 2, 2, 1]), target));
  assert.ok(exact < off && off < inverted, `exact ${exact} < off ${off} < inverted ${inverted}`);
  assert.throws(() => attentionLoss(tf.zeros([1, 3, 3, 1]), target), /whole multiple/);
  target.dispose();
});

test('the pointing loss rewards the order of the gate: its maximum inside the lesion, whatever the values', () => {
  // Lesion in the first of four cells. Gate A is low everywhere but highest on the lesion; gate B is
  // higher on the lesion than A (better BCE there) but higher still elsewhere.
  const target = tf.tensor4d([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 4, 4, 1]);
  const a = tf.tensor4d([0.3, 0.1, 0.1, 0.1], [1, 2, 2, 1]);
  const b = tf.tensor4d([0.7, 0.9, 0.1, 0.1], [1, 2, 2, 1]);
  const logit = (p: number) => Math.log(p / (1 - p));
  const expected = -(logit(0.3) - Math.log([0.3, 0.1, 0.1, 0.1].reduce((s, p) => s + Math.exp(logit(p)), 0)));
  const la = scalar(pointingLoss(a, target));
  assert.ok(Math.abs(la - expected) < 1e-4, `${la} vs ${expected}`);
  assert.ok(la < scalar(pointingLoss(b, target)), 'the gate whose maximum is on the lesion scores better');
  assert.ok(Math.abs(scalar(pointingLoss(b, tf.zeros([1, 4, 4, 1])))) < 1e-9, 'an image without lesion adds nothing');
  assert.ok(Math.abs(scalar(gateSupervision(a, target)) - (scalar(attentionLoss(a, target)) + la)) < 1e-5, 'the gate is supervised by BCE plus pointing');
  tf.dispose([target, a, b]);
});

test('the objective adds the weighted gate term to the lesion loss, and only where a spatial gate exists', () => {
  const S = 64;
  const x = tf.tensor4d(uniform(2 * S * S * 3, 1), [2, S, S, 3]);
  const y = tf.tensor4d(uniform(2 * (S / 4) ** 2, 2).map((v) => (v > 0.7 ? 1 : 0)), [2, S / 4, S / 4, 1]);
  for (const variant of ['cbam', 'nonlocal'] as const) {
    const model = buildModel({ variant, inputSize: S, widths: [4, 4, 8, 8], decoderWidth: 4 });
    assert.equal(supervisedGate(model), DECODER_GATE);
    const plain = scalar(detectorObjective(model, 0)(x, y));
    const supervised = scalar(detectorObjective(model, 0.5)(x, y));
    const probe = tf.model({ inputs: model.inputs, outputs: [model.getLayer(LESION_OUTPUT).output, model.getLayer(DECODER_GATE).output] as tf.SymbolicTensor[] });
    const [lesion, gate] = probe.apply(x, { training: true }) as tf.Tensor[];
    const lesionOnly = scalar(lesionLoss(lesion, y));
    const gateTerm = scalar(gateSupervision(gate, y));
    tf.dispose([lesion, gate]);
    assert.ok(Math.abs(plain - lesionOnly) < 1e-5, `${variant}: weight 0 is the lesion loss (${plain} vs ${lesionOnly})`);
    assert.ok(gateTerm > 0.05, `${variant}: an untrained gate is far from the mask (${gateTerm})`);
    assert.ok(Math.abs(supervised - (lesionOnly + 0.5 * gateTerm)) < 1e-4, `${variant}: ${supervised} vs ${lesionOnly} + 0.5 × ${gateTerm}`);
    model.dispose();
  }
  for (const variant of ['baseline', 'se'] as const) {
    const model = buildModel({ variant, inputSize: S, widths: [4, 4, 8, 8], decoderWidth: 4 });
    assert.equal(supervisedGate(model), undefined);
    const withWeight = scalar(detectorObjective(model, 0.5)(x, y));
    const lesionOnly = scalar(lesionLoss(model.apply(x, { training: true }) as tf.Tensor, y));
    assert.ok(Math.abs(withWeight - lesionOnly) < 1e-5, `${variant} has no gate to supervise`);
    model.dispose();
  }
  tf.dispose([x, y]);
});

test('the supervised objective has the same gradients on wasm as on cpu, and the gate term reaches the gate', () => {
  const S = 64;
  const model = buildModel({ variant: 'nonlocal', inputSize: S, widths: [8, 8, 16, 16], decoderWidth: 8 });
  // Seeded weights, each with its initialiser's spread: with fresh random ones, two of the 4×4 gate cells
  // can land within rounding of each other, and the pointing loss's maximum (where the objective is not
  // differentiable) then picks different cells on cpu and wasm (a clean-clone CI run saw 1.4% on one kernel).
  model.weights.forEach((w, k) => {
    const spread = tf.tidy(() => Math.sqrt(tf.moments(w.read()).variance.dataSync()[0]));
    if (spread > 0) w.write(tf.tensor(values(w.read().size, 1000 + k).map((u) => u * spread * Math.sqrt(12)), w.shape as number[]));
  });
  const xv = uniform(2 * S * S * 3, 3);
  const yv = uniform(2 * (S / 4) ** 2, 4).map((v) => (v > 0.6 ? 1 : 0));
  const gradsOn = (backend: string, weight: number) =>
    onBackend(backend, () => {
      const x = tf.tensor4d(xv, [2, S, S, 3]);
      const y = tf.tensor4d(yv, [2, S / 4, S / 4, 1]);
      const { value, grads } = tf.variableGrads(() => detectorObjective(model, weight)(x, y));
      const out = Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
      tf.dispose([x, y, value, ...Object.values(grads)]);
      return out;
    });
  const cpu = gradsOn('cpu', 0.5);
  const wasm = gradsOn('wasm', 0.5);
  assert.deepEqual(Object.keys(wasm).sort(), Object.keys(cpu).sort());
  for (const name of Object.keys(cpu)) {
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < cpu[name].length; i++) {
      scale = Math.max(scale, Math.abs(cpu[name][i]));
      diff = Math.max(diff, Math.abs(cpu[name][i] - wasm[name][i]));
    }
    assert.ok(diff <= 1e-3 * Math.max(scale, 1e-3), `${name}: wasm vs cpu differ by ${diff} (scale ${scale})`);
  }
  const unsupervised = gradsOn('wasm', 0);
  const gateKernel = Object.keys(wasm).find((k) => /stage4\/cbam_spatial\/kernel/.test(k)) as string;
  assert.ok(gateKernel, 'the stage-4 gate kernel is trained');
  let change = 0;
  for (let i = 0; i < wasm[gateKernel].length; i++) change = Math.max(change, Math.abs(wasm[gateKernel][i] - unsupervised[gateKernel][i]));
  assert.ok(change > 1e-4, `supervision changes the gate kernel's gradient (by ${change})`);
  model.dispose();
});

test('supervised training steps do not leak tensors', () => {
  const model = buildModel({ variant: 'cbam', inputSize: 32, widths: [4, 4, 8, 8], decoderWidth: 4 });
  const objective = detectorObjective(model, 0.5);
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
  const step = () => tf.dispose(opt.minimize(() => objective(x, y), true) ?? []);
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
});

/** Bright discs on darker noise, at random places: image [S,S,3] and mask [S,S] of each. */
function discs(n: number, S: number, seed: number): { x: Float32Array; masks: Uint8Array[] } {
  const r = uniform(n * (3 + S * S), seed);
  const x = new Float32Array(n * S * S * 3);
  const masks: Uint8Array[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    const radius = S * (0.1 + 0.08 * r[k++]);
    const cx = radius + r[k++] * (S - 2 * radius);
    const cy = radius + r[k++] * (S - 2 * radius);
    const mask = new Uint8Array(S * S);
    for (let p = 0; p < S * S; p++) {
      const inside = (p % S - cx) ** 2 + (Math.floor(p / S) - cy) ** 2 < radius * radius;
      mask[p] = inside ? 1 : 0;
      const v = inside ? 0.75 + 0.2 * r[k++] : 0.15 + 0.35 * r[k++];
      x.set([v, 0.8 * v, 0.6 * v], (i * S * S + p) * 3);
    }
    masks.push(mask);
  }
  return { x, masks };
}

test('attention supervision teaches the supervised gate to point at the lesion on held-out images', (t) => {
  const S = 64;
  const s4 = S / 4;
  const n = 32;
  const train = discs(n, S, 11);
  const held = discs(16, S, 12);
  const y = new Float32Array(n * s4 * s4);
  train.masks.forEach((m, i) => {
    for (let p = 0; p < S * S; p++) y[i * s4 * s4 + Math.floor(Math.floor(p / S) / 4) * s4 + Math.floor((p % S) / 4)] += m[p] / 16;
  });
  const model = buildModel({ variant: 'cbam', inputSize: S, widths: [8, 8, 16, 16], decoderWidth: 8 });
  // Layer initialisers are unseeded: replace every random weight by deterministic values of the same
  // spread, so the run (and its count of hits) is the same every time.
  model.setWeights(
    model.getWeights().map((w, i) =>
      tf.tidy(() => {
        const std = tf.moments(w).variance.sqrt().dataSync()[0];
        return std > 0 ? tf.tensor(values(w.size, 100 + i).map((v) => v * std * Math.sqrt(12)), w.shape) : w.clone();
      }),
    ),
  );
  settleBatchNormQuickly(model);
  const objective = detectorObjective(model, 1);
  const opt = tf.train.adam(5e-3);
  const xt = tf.tensor4d(train.x, [n, S, S, 3]);
  const yt = tf.tensor4d(y, [n, s4, s4, 1]);
  for (let step = 0; step < 100; step++) tf.dispose(opt.minimize(() => objective(xt, yt), true) ?? []);
  const gateModel = tf.model({ inputs: model.inputs, outputs: model.getLayer(supervisedGate(model) as string).output as tf.SymbolicTensor });
  const gates = tf.tidy(() => gateModel.predict(tf.tensor4d(held.x, [16, S, S, 3])) as tf.Tensor).dataSync();
  const g = S / 8;
  const cell = S / g;
  let hits = 0;
  held.masks.forEach((mask, i) => {
    let best = 0;
    for (let c = 1; c < g * g; c++) if (gates[i * g * g + c] > gates[i * g * g + best]) best = c;
    // The maximal gate cell points at the lesion when the cell overlaps it.
    const [gy, gx] = [Math.floor(best / g), best % g];
    let inside = 0;
    for (let yy = gy * cell; yy < gy * cell + cell; yy++) for (let xx = gx * cell; xx < gx * cell + cell; xx++) inside += mask[yy * S + xx];
    if (inside > 0) hits++;
  });
  tf.dispose([xt, yt]);
  opt.dispose();
  model.dispose();
  // An untrained or unsupervised stage-4 gate's maximum landed on the disc in about 0–6 of 16 (measured);
  // chance is about 2 of 16. Supervised, the decoder gate (8×8 cells here) hit 12–15 of 16 over six runs
  // of 100 steps, and 11 once in 60: the run is not bit-reproducible here (cause not found), so the
  // bound leaves room below the spread while staying far above an unsupervised gate.
  t.diagnostic(`hits: ${hits} of 16`);
  assert.ok(hits >= 10, `the gate's maximum lies on the disc in ${hits} of 16 held-out images`);
});
