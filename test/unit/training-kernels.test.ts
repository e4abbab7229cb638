/**
 * The wasm training kernels against the cpu backend (an independent implementation) and against finite
 * differences (independent of both), plus the cheaper Max/BatchNorm gradients, plus a whole detector
 * training step's gradients on wasm against cpu.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { nativeKernels, registerWasmGradientKernels, useNativeKernels } from '../../main/detector/kernels/index.ts';
import { buildModel } from '../../main/detector/model.ts';
import { onBackend, seeded, values } from './tensor-helpers.ts';

registerWasmGradientKernels();
await tf.setBackend('wasm');
await tf.ready();

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

type Conv = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

function outputShape(conv: Conv, xs: number[], ws: number[]): number[] {
  return onBackend('cpu', () => {
    const a = tf.zeros(xs as [number, number, number, number]) as tf.Tensor4D;
    const b = tf.zeros(ws as [number, number, number, number]) as tf.Tensor4D;
    const y = conv(a, b);
    const shape = [...y.shape];
    tf.dispose([a, b, y]);
    return shape;
  });
}

/** Gradients of L = Σ conv(x, w) · r with respect to x and w, on one backend. */
function convGrads(backend: string, conv: Conv, xs: number[], ws: number[], x: Float32Array, w: Float32Array, r: Float32Array): { dx: Float32Array; dw: Float32Array; loss: number } {
  return onBackend(backend, () => {
    const out = tf.tidy(() => {
      const xt = tf.tensor4d(x, xs as [number, number, number, number]);
      const wt = tf.tensor4d(w, ws as [number, number, number, number]);
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const y = conv(a as tf.Tensor4D, b as tf.Tensor4D);
        return tf.sum(tf.mul(y, tf.tensor(r, y.shape)));
      };
      const { value, grads } = tf.valueAndGrads(f)([xt, wt]);
      return [value, ...grads];
    });
    const [loss, dx, dw] = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
    return { dx, dw, loss: loss[0] };
  });
}

function lossOn(backend: string, conv: Conv, xs: number[], ws: number[], x: Float32Array, w: Float32Array, r: Float32Array): number {
  return onBackend(backend, () => {
    const t = tf.tidy(() => {
      const y = conv(tf.tensor4d(x, xs as [number, number, number, number]), tf.tensor4d(w, ws as [number, number, number, number]));
      return tf.sum(tf.mul(y, tf.tensor(r, y.shape)));
    });
    const v = t.dataSync()[0];
    t.dispose();
    return v;
  });
}

/**
 * The loss is linear in x and in w, so a central difference along a random direction d equals ⟨∇, d⟩ up
 * to rounding; float64 accumulation of the directional dot product keeps the comparison tight.
 */
function checkFiniteDifference(conv: Conv, xs: number[], ws: number[], x: Float32Array, w: Float32Array, r: Float32Array, grads: { dx: Float32Array; dw: Float32Array }): void {
  for (const which of ['x', 'w'] as const) {
    const base = which === 'x' ? x : w;
    const d = values(base.length, 99);
    const eps = 1e-2;
    const plus = base.map((v, i) => v + eps * d[i]);
    const minus = base.map((v, i) => v - eps * d[i]);
    const lp = which === 'x' ? lossOn('wasm', conv, xs, ws, plus, w, r) : lossOn('wasm', conv, xs, ws, x, plus, r);
    const lm = which === 'x' ? lossOn('wasm', conv, xs, ws, minus, w, r) : lossOn('wasm', conv, xs, ws, x, minus, r);
    const numeric = (lp - lm) / (2 * eps);
    const g = which === 'x' ? grads.dx : grads.dw;
    let analytic = 0;
    for (let i = 0; i < g.length; i++) analytic += g[i] * d[i];
    assert.ok(Math.abs(numeric - analytic) <= 2e-3 * Math.max(1, Math.abs(analytic)), `d${which}: finite difference ${numeric} vs analytic ${analytic}`);
  }
}

const CONV_CASES: { name: string; xs: number[]; ws: number[]; stride: number | [number, number]; pad: 'same' | 'valid' }[] = [
  { name: '3x3 stride 1 same, batch 2, odd sizes', xs: [2, 9, 11, 3], ws: [3, 3, 3, 5], stride: 1, pad: 'same' },
  { name: '3x3 stride 2 same, odd sizes', xs: [3, 9, 7, 4], ws: [3, 3, 4, 6], stride: 2, pad: 'same' },
  { name: '3x3 stride 2 same, even sizes (asymmetric padding)', xs: [2, 10, 12, 3], ws: [3, 3, 3, 4], stride: 2, pad: 'same' },
  { name: '3x3 stride 1 valid', xs: [2, 7, 8, 3], ws: [3, 3, 3, 2], stride: 1, pad: 'valid' },
  { name: '3x3 stride 2 valid with an unread last row', xs: [2, 8, 9, 2], ws: [3, 3, 2, 3], stride: 2, pad: 'valid' },
  { name: '1x1 stride 1 (decoder laterals)', xs: [2, 5, 6, 7], ws: [1, 1, 7, 4], stride: 1, pad: 'same' },
  { name: '7x7 on two channels (CBAM spatial gate)', xs: [2, 9, 9, 2], ws: [7, 7, 2, 1], stride: 1, pad: 'same' },
  { name: '2x2 stride 2 valid', xs: [2, 6, 6, 3], ws: [2, 2, 3, 3], stride: 2, pad: 'valid' },
  { name: '5x5 stride 3 same (three phases per axis, wider window)', xs: [2, 11, 10, 3], ws: [5, 5, 3, 4], stride: 3, pad: 'same' },
  { name: '4x4 stride 2 same (even kernel)', xs: [2, 9, 8, 2], ws: [4, 4, 2, 3], stride: 2, pad: 'same' },
  { name: '3x3 strides 2 and 1 (unequal: matmul and col2im)', xs: [2, 9, 8, 3], ws: [3, 3, 3, 4], stride: [2, 1], pad: 'same' },
];

/**
 * Both kernel sets wasm trains with: the native library's (register tiles, direct loops, sgemm; where it is built) and the
 * wasm-only ones (XNNPACK convolutions, matmul + col2im). Each runs every case, so the one a machine
 * does not use by default keeps its coverage.
 */
const NATIVE = nativeKernels();
const KERNEL_SETS = [
  { name: 'native kernels', native: true, skip: NATIVE.active ? false : `native kernels ${NATIVE.why}` },
  { name: 'wasm kernels', native: false, skip: false },
] as const;

function withKernels<T>(native: boolean, f: () => T): T {
  const before = NATIVE.active;
  useNativeKernels(native);
  try {
    return f();
  } finally {
    useNativeKernels(before);
  }
}

for (const set of KERNEL_SETS) {
  for (const c of CONV_CASES) {
    test(`conv2d gradients on wasm (${set.name}) match cpu and finite differences: ${c.name}`, { skip: set.skip }, () =>
      withKernels(set.native, () => {
        const conv: Conv = (x, w) => tf.conv2d(x, w, c.stride, c.pad);
        const n = c.xs.reduce((a, b) => a * b, 1);
        const x = values(n, 1);
        const w = values(c.ws.reduce((a, b) => a * b, 1), 2);
        const ys = outputShape(conv, c.xs, c.ws);
        const r = values(ys.reduce((a, b) => a * b, 1), 3);
        const cpu = convGrads('cpu', conv, c.xs, c.ws, x, w, r);
        const wasm = convGrads('wasm', conv, c.xs, c.ws, x, w, r);
        assert.ok(Math.abs(cpu.loss - wasm.loss) < 1e-3 * Math.max(1, Math.abs(cpu.loss)), `forward differs: ${wasm.loss} vs cpu ${cpu.loss}`);
        assert.ok(maxAbsDiff(cpu.dx, wasm.dx) < 1e-4, `dx differs from cpu by ${maxAbsDiff(cpu.dx, wasm.dx)}`);
        assert.ok(maxAbsDiff(cpu.dw, wasm.dw) < 1e-4, `dw differs from cpu by ${maxAbsDiff(cpu.dw, wasm.dw)}`);
        checkFiniteDifference(conv, c.xs, c.ws, x, w, r, wasm);
      }),
    );
  }

  test(`conv2d gradients on wasm (${set.name}) match cpu on a realistic stride-2 layer (3 × 64² × 16 → 8)`, { skip: set.skip }, () =>
    withKernels(set.native, () => {
      // Rounding grows with the reduction length: a detector-sized layer, beyond the tiny cases above.
      const xs = [3, 64, 64, 16];
      const ws = [3, 3, 16, 8];
      const conv: Conv = (x, w) => tf.conv2d(x, w, 2, 'same');
      const x = values(xs.reduce((a, b) => a * b, 1), 4);
      const w = values(ws.reduce((a, b) => a * b, 1), 5);
      const r = values(3 * 32 * 32 * 8, 6);
      const cpu = convGrads('cpu', conv, xs, ws, x, w, r);
      const wasm = convGrads('wasm', conv, xs, ws, x, w, r);
      assert.ok(maxAbsDiff(cpu.dx, wasm.dx) < 1e-4);
      assert.ok(maxAbsDiff(cpu.dw, wasm.dw) < 5e-4);
    }),
  );

  test(`fused conv2d forward on wasm (${set.name}) matches cpu with bias and relu, and with a linear activation`, { skip: set.skip }, () =>
    withKernels(set.native, () => {
      const xs: [number, number, number, number] = [2, 9, 10, 5];
      const x = values(xs.reduce((a, b) => a * b, 1), 7);
      const w = values(3 * 3 * 5 * 6, 8);
      const b = values(6, 9);
      for (const activation of ['relu', 'linear'] as const) {
        for (const stride of [1, 2]) {
          const run = (backend: string) =>
            onBackend(backend, () => {
              const y = tf.tidy(() => tf.fused.conv2d({ x: tf.tensor4d(x, xs), filter: tf.tensor4d(w, [3, 3, 5, 6]), strides: stride, pad: 'same', bias: tf.tensor1d(b), activation }));
              const out = y.dataSync() as Float32Array;
              y.dispose();
              return out;
            });
          const d = maxAbsDiff(run('cpu'), run('wasm'));
          assert.ok(d < 1e-4, `${activation} stride ${stride}: differs from cpu by ${d}`);
        }
      }
    }),
  );
}

test('the native kernels are active wherever their library was built', () => {
  // A built library that fails to load would silently train at wasm speed: that is a failure, not a skip.
  const built = existsSync(fileURLToPath(new URL('../../build/native/studio_kernels.node', import.meta.url)));
  assert.equal(NATIVE.active, built, NATIVE.why);
});

const DEPTHWISE_CASES: { name: string; xs: number[]; ws: number[]; stride: number; pad: 'same' | 'valid' }[] = [
  { name: '3x3 stride 1 same, multiplier 1', xs: [2, 7, 9, 4], ws: [3, 3, 4, 1], stride: 1, pad: 'same' },
  { name: '3x3 stride 2 valid, multiplier 2', xs: [2, 9, 8, 3], ws: [3, 3, 3, 2], stride: 2, pad: 'valid' },
  { name: '5x5 stride 2 same', xs: [1, 11, 10, 2], ws: [5, 5, 2, 1], stride: 2, pad: 'same' },
];

for (const c of DEPTHWISE_CASES) {
  test(`depthwise conv gradients on wasm match cpu and finite differences: ${c.name}`, () => {
    const conv: Conv = (x, w) => tf.depthwiseConv2d(x, w, c.stride, c.pad);
    const x = values(c.xs.reduce((a, b) => a * b, 1), 7);
    const w = values(c.ws.reduce((a, b) => a * b, 1), 8);
    const ys = outputShape(conv, c.xs, c.ws);
    const r = values(ys.reduce((a, b) => a * b, 1), 9);
    const cpu = convGrads('cpu', conv, c.xs, c.ws, x, w, r);
    const wasm = convGrads('wasm', conv, c.xs, c.ws, x, w, r);
    assert.ok(maxAbsDiff(cpu.dx, wasm.dx) < 1e-4);
    assert.ok(maxAbsDiff(cpu.dw, wasm.dw) < 1e-4);
    checkFiniteDifference(conv, c.xs, c.ws, x, w, r, wasm);
  });
}

test('the cheaper Max gradient routes dy to every tied maximum, like tfjs-core', () => {
  const x = tf.tensor4d([1, 3, 3, 2, 0, -1, 5, 5], [1, 2, 2, 2]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.max(t, 3, true), tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]))))(x);
  assert.deepEqual(Array.from(g.dataSync()), [0, 1, 2, 0, 3, 0, 4, 4]);
  const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.max(t, [1, 2])))(x);
  // max over space per channel: channel 0 max 5 at (1,1); channel 1 max 5 at (1,1).
  assert.deepEqual(Array.from(g2.dataSync()), [0, 0, 0, 0, 0, 0, 1, 1]);
});

test('the broadcast BatchNorm gradient matches finite differences in every input', () => {
  const xs = [2, 3, 3, 4];
  const x = values(72, 11);
  const mean = values(4, 12);
  const variance = values(4, 13).map((v) => v + 1);
  const scale = values(4, 14).map((v) => v + 1);
  const offset = values(4, 15);
  const r = values(72, 16);
  const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
    tf.sum(tf.mul(tf.batchNorm(a as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3), tf.tensor(r, xs)));
  const inputs = [x, mean, variance, scale, offset];
  const shapes = [xs, [4], [4], [4], [4]];
  const grads = tf.grads(f)(inputs.map((v, i) => tf.tensor(v, shapes[i]))).map((t) => t.dataSync());
  for (let k = 0; k < inputs.length; k++) {
    const d = values(inputs[k].length, 20 + k);
    const shifted = (sign: number) => inputs.map((v, i) => tf.tensor(i === k ? v.map((e, j) => e + sign * 1e-2 * d[j]) : v, shapes[i]));
    const lp = (f as (...t: tf.Tensor[]) => tf.Tensor)(...shifted(1)).dataSync()[0];
    const lm = (f as (...t: tf.Tensor[]) => tf.Tensor)(...shifted(-1)).dataSync()[0];
    let analytic = 0;
    for (let j = 0; j < d.length; j++) analytic += grads[k][j] * d[j];
    assert.ok(Math.abs((lp - lm) / 2e-2 - analytic) < 2e-3 * Math.max(1, Math.abs(analytic)), `input ${k}: ${(lp - lm) / 2e-2} vs ${analytic}`);
  }
});

test('a full CBAM detector training step has the same gradients on wasm as on cpu', () => {
  const S = 64;
  // A seeded initialisation, so a failure means the kernels changed. About 1 in 20 random ones (measured, 150
  // draws) gave cpu and wasm gradients far apart, alike with the native and the wasm-only kernels: most
  // likely a max (CBAM's pooling) within rounding of a tie, where the gradient jumps.
  const model = seeded(1, () => buildModel({ variant: 'nonlocal', inputSize: S, widths: [8, 8, 16, 16], decoderWidth: 8 }));
  const x = values(2 * S * S * 3, 30).map((v) => v + 0.5);
  const target = values(2 * (S / 4) * (S / 4), 31).map((v) => (v > 0.3 ? 1 : 0));
  const gradsOn = (backend: string) =>
    onBackend(backend, () => {
      const { grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const p = model.apply(tf.tensor4d(x, [2, S, S, 3]), { training: true }) as tf.Tensor;
          return tf.losses.sigmoidCrossEntropy(tf.tensor4d(target, [2, S / 4, S / 4, 1]), p) as tf.Scalar;
        }),
      );
      const out = Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.dataSync() as Float32Array]));
      tf.dispose(Object.values(grads));
      return out;
    });
  const cpu = gradsOn('cpu');
  const wasm = gradsOn('wasm');
  assert.deepEqual(Object.keys(wasm).sort(), Object.keys(cpu).sort());
  assert.ok(Object.keys(cpu).length > 20);
  for (const name of Object.keys(cpu)) {
    let scale = 0;
    for (const v of cpu[name]) scale = Math.max(scale, Math.abs(v));
    assert.ok(maxAbsDiff(cpu[name], wasm[name]) <= 1e-3 * Math.max(scale, 1e-3), `${name}: wasm vs cpu differ by ${maxAbsDiff(cpu[name], wasm[name])} (scale ${scale})`);
  }
  model.dispose();
});

test('a wasm training step does not leak tensors', () => {
  const model = buildModel({ variant: 'cbam', inputSize: 32, widths: [4, 4, 8, 8], decoderWidth: 4 });
  const opt = tf.train.sgd(0.01);
  const x = tf.randomUniform([2, 32, 32, 3]);
  const y = tf.zeros([2, 8, 8, 1]);
  const step = () => tf.dispose(opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true) ?? []);
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
  model.dispose();
});

/** Σ over `axes` in float64, as the reference the float32 kernels are measured against. */
function referenceReduce(v: Float32Array, shape: number[], axes: number[]): Float64Array {
  const keptDims = shape.filter((_, i) => !axes.includes(i));
  const out = new Float64Array(keptDims.reduce((p, d) => p * d, 1));
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  for (let i = 0; i < v.length; i++) {
    let o = 0;
    for (let d = 0, kd = 0; d < shape.length; d++) {
      if (axes.includes(d)) continue;
      o = o * keptDims[kd++] + (Math.floor(i / strides[d]) % shape[d]);
    }
    out[o] += v[i];
  }
  return out;
}

for (const c of [
  { shape: [8, 32, 32, 16], axes: [0, 1, 2], pooled: true, why: "BatchNorm's statistics (outer axes, pooled)" },
  { shape: [4, 16, 16, 24], axes: [1, 2], pooled: true, why: 'spatial pooling per image (middle axes, pooled)' },
  { shape: [3, 50, 7, 5], axes: [0, 1], pooled: true, why: 'a leading block that is not all of the outer axes' },
  { shape: [4, 6, 6, 8], axes: [0, 2], pooled: false, why: 'non-contiguous axes (wasm fallback)' },
  { shape: [4, 6, 6, 8], axes: [3], pooled: false, why: 'the innermost axis (wasm fallback)' },
  { shape: [4, 6, 6, 8], axes: [0, 1, 2, 3], pooled: false, why: 'every axis (wasm fallback)' },
  { shape: [1, 8], axes: [-2], pooled: true, why: 'a negative axis over a block of one (rank 2)' },
  { shape: [0, 5], axes: [0], pooled: false, why: 'an empty reduced block (Sum 0, Mean NaN, as on cpu)' },
]) {
  test(`Sum and Mean on wasm match float64 sums: ${c.why}`, async () => {
    // The route matters for speed: pooled cases must not fall back to wasm's transpose-then-reduce.
    const probe = tf.zeros(c.shape);
    const profile = await tf.profile(() => tf.dispose([tf.sum(probe, c.axes), tf.mean(probe, c.axes)]));
    probe.dispose();
    const kernels = profile.kernels.map((k) => k.name);
    assert.equal(kernels.filter((k) => k === 'AvgPool').length, c.pooled ? 2 : 0, kernels.join(' '));
    const size = c.shape.reduce((p, d) => p * d, 1);
    // An offset mean makes float32 accumulation error visible: wasm's own Sum is ~1e-5 off here.
    const v = values(size, 40).map((e) => e + 0.3);
    const axes = c.axes.map((a) => (a < 0 ? a + c.shape.length : a));
    const ref = referenceReduce(v, c.shape, axes);
    const count = axes.reduce((p, a) => p * c.shape[a], 1);
    for (const keepDims of [false, true]) {
      const x = tf.tensor(v, c.shape);
      const sum = tf.sum(x, c.axes, keepDims);
      const mean = tf.mean(x, c.axes, keepDims);
      const expected = c.shape.map((d, i) => (axes.includes(i) ? 1 : d)).filter((_, i) => keepDims || !axes.includes(i));
      assert.deepEqual(sum.shape, expected);
      assert.deepEqual(mean.shape, expected);
      const s = sum.dataSync();
      const m = mean.dataSync();
      for (let i = 0; i < ref.length; i++) {
        assert.ok(Math.abs(s[i] - ref[i]) <= 1e-5 * Math.max(1, Math.abs(ref[i])), `sum[${i}] ${s[i]} vs ${ref[i]}`);
        if (count === 0) assert.ok(Number.isNaN(m[i]), `mean of nothing is NaN, got ${m[i]}`);
        else assert.ok(Math.abs(m[i] - ref[i] / count) <= 1e-5 * Math.max(1, Math.abs(ref[i] / count)), `mean[${i}] ${m[i]} vs ${ref[i] / count}`);
      }
      tf.dispose([x, sum, mean]);
    }
  });
}

test('Sum over outer axes of int32 and bool tensors keeps wasm semantics', () => {
  const i = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32');
  const s = tf.sum(i, [0, 1]);
  assert.equal(s.dtype, 'int32');
  assert.deepEqual(Array.from(s.dataSync()), [16, 20]);
  const b = tf.sum(tf.tensor3d([true, false, true, true], [2, 1, 2], 'bool'), [0, 1]);
  assert.deepEqual(Array.from(b.dataSync()), [2, 1]);
  tf.dispose([i, s, b]);
});

test('Identity and same-dtype Cast share data on wasm without losing it when either is disposed', () => {
  const before = tf.memory();
  const x = tf.tensor2d([1.5, -2, 3, 4], [2, 2]);
  const buffers = tf.memory().numDataBuffers;
  const copy = tf.clone(x); // Identity
  const same = tf.cast(x, 'float32');
  assert.equal(tf.memory().numDataBuffers, buffers, 'Identity and same-dtype Cast must not copy');
  x.dispose();
  assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2, 3, 4]);
  copy.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2, 3, 4]);
  const converted = tf.cast(same, 'int32');
  assert.equal(converted.dtype, 'int32');
  assert.deepEqual(Array.from(converted.dataSync()), [1, -2, 3, 4]);
  tf.dispose([same, converted]);
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numDataBuffers, before.numDataBuffers);
});
