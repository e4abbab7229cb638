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
import { useBackend } from '../../main/detector/kernels/backend.ts';
import { attentionLoss, lesionLoss, pointingLoss } from '../../main/training/loss.ts';
import { detectorObjective, gateSupervision, supervisedGate } from '../../main/training/objective.ts';
import { settleBatchNormQuickly } from '../../main/training/trainer.ts';
import { onBackend, seeded, values } from './tensor-helpers.ts';

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
  // Seeded initialisers: with fresh random weights, two gate cells can land within rounding of each other,
  // and the pointing loss's maximum (where the objective is not differentiable) then picks different cells
  // on cpu and wasm (a clean-clone CI run saw 1.4% on one kernel). This seed's gates are well apart.
  const model = seeded(1000, () => buildModel({ variant: 'nonlocal', inputSize: S, widths: [8, 8, 16, 16], decoderWidth: 8 }));
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

/**
 * Trains a small cbam model on bright discs with the given gate weight, from initial weights fixed by
 * `seed`, and measures its supervised gate on held-out disc images: in how many the gate's maximal cell
 * overlaps the disc, and (median over images) how much higher the gate is on cells mostly inside the disc
 * than on cells without any of it.
 */
function trainGateOnDiscs(seed: number, gateWeight: number): { hits: number; contrast: number; held: number } {
  const S = 64;
  const s4 = S / 4;
  const n = 32;
  const H = 64;
  const train = discs(n, S, 11);
  const held = discs(H, S, 12);
  const y = new Float32Array(n * s4 * s4);
  train.masks.forEach((m, i) => {
    for (let p = 0; p < S * S; p++) y[i * s4 * s4 + Math.floor(Math.floor(p / S) / 4) * s4 + Math.floor((p % S) / 4)] += m[p] / 16;
  });
  const model = seeded(seed, () => buildModel({ variant: 'cbam', inputSize: S, widths: [8, 8, 16, 16], decoderWidth: 8 }));
  settleBatchNormQuickly(model);
  const objective = detectorObjective(model, gateWeight);
  const opt = tf.train.adam(5e-3);
  const xt = tf.tensor4d(train.x, [n, S, S, 3]);
  const yt = tf.tensor4d(y, [n, s4, s4, 1]);
  for (let step = 0; step < 100; step++) tf.dispose(opt.minimize(() => objective(xt, yt), true) ?? []);
  const gateModel = tf.model({ inputs: model.inputs, outputs: model.getLayer(supervisedGate(model) as string).output as tf.SymbolicTensor });
  const gates = tf.tidy(() => gateModel.predict(tf.tensor4d(held.x, [H, S, S, 3])) as tf.Tensor).dataSync();
  tf.dispose([xt, yt]);
  opt.dispose();
  model.dispose();
  const g = S / 8;
  const cell = S / g;
  let hits = 0;
  const contrasts: number[] = [];
  held.masks.forEach((mask, i) => {
    const gate = gates.subarray(i * g * g, (i + 1) * g * g);
    const covered = (c: number) => {
      let inside = 0;
      for (let yy = 0; yy < cell; yy++) for (let xx = 0; xx < cell; xx++) inside += mask[(Math.floor(c / g) * cell + yy) * S + (c % g) * cell + xx];
      return inside / (cell * cell);
    };
    let best = 0;
    for (let c = 1; c < g * g; c++) if (gate[c] > gate[best]) best = c;
    if (covered(best) > 0) hits++;
    const mean = (cells: number[]) => cells.reduce((s, c) => s + gate[c], 0) / cells.length;
    const all = [...gate.keys()];
    const onDisc = all.filter((c) => covered(c) > 0.5);
    const offDisc = all.filter((c) => covered(c) === 0);
    // Every held-out disc (radius ≥ 6.4 px) covers most of at least one 8-px cell.
    contrasts.push(mean(onDisc) / mean(offDisc));
  });
  contrasts.sort((a, b) => a - b);
  return { hits, contrast: contrasts[H >> 1], held: H };
}

test('attention supervision teaches the supervised gate to point at the lesion on held-out images', (t) => {
  // The initial weights are seeded so the run is the same every time on a machine; another kernel path
  // (STUDIO_NATIVE_KERNELS=off) rounds differently and moved this seed's hits from 50 to 54 of 64. The seed
  // is not picked for a good result: over seeds 1–10, nine gave 47–64 hits of 64 and a gate 11–79× higher on
  // the disc than off it, and one (seed 10) had not yet learnt in 100 steps (29 hits, 3.7×). Trained the
  // same way without gate supervision, this init's gate points at the disc in 6 of 64 (chance is about 8)
  // and is lower on it than off it (0.7×): the run below is the control that shows supervision did it.
  const supervised = trainGateOnDiscs(1, 1);
  const unsupervised = trainGateOnDiscs(1, 0);
  t.diagnostic(`supervised: ${supervised.hits} of ${supervised.held} hits, gate ${supervised.contrast.toFixed(1)}× higher on the disc`);
  t.diagnostic(`unsupervised: ${unsupervised.hits} of ${unsupervised.held} hits, ${unsupervised.contrast.toFixed(2)}×`);
  assert.ok(supervised.hits >= 40, `the gate's maximum lies on the disc in ${supervised.hits} of ${supervised.held} held-out images`);
  assert.ok(supervised.contrast >= 5, `the gate is only ${supervised.contrast.toFixed(2)}× higher on the disc than off it`);
  assert.ok(supervised.hits >= unsupervised.hits + 20 && supervised.contrast >= 3 * unsupervised.contrast, 'supervision, not the lesion loss alone, taught the gate');
});
