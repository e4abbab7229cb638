/**
 * Sum and Mean over leading or middle axes for the wasm backend, as one average pooling.
 *
 * wasm reduces only over the innermost axes: for any other axes it first transposes the whole tensor.
 * BatchNorm's statistics and every one of its gradients reduce [N,H,W,C] over N·H·W, so training paid a
 * full transpose per reduction (~15% of a CBAM step at 256²). Viewed as [pre, a, b, post] (the reduced
 * axes contiguous and a·b of them, `post` > 1 kept after them), the mean is an a×b average pooling
 * with one window per `pre` slice, which XNNPACK runs channels-last at memory speed (8×128²×16 over
 * N·H·W, fresh tensors: 10 ms → 1.7 ms). A matmul with a row of ones is no faster: XNNPACK repacks its
 * right operand on every call. Other cases (innermost axes, non-contiguous axes, non-float dtypes) go to
 * wasm's own kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { type KernelFunc, wasmFallback } from './fallback.ts';

/** [pre, a, b, post] for a contiguous block of reduced axes (a·b values) with kept axes after it, else null. */
export function reductionView(shape: number[], axes: number[]): [number, number, number, number] | null {
  if (axes.length === 0) return null;
  const sorted = [...axes].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (last - first + 1 !== sorted.length || last === shape.length - 1) return null;
  const size = (from: number, to: number) => shape.slice(from, to).reduce((p, d) => p * d, 1);
  const post = size(last + 1, shape.length);
  if (post <= 1 || shape.some((d) => d === 0)) return null;
  return [size(0, first), size(first, last), shape[last], post];
}

function outShape(shape: number[], axes: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** A Sum or Mean kernel that takes the pooling route where it applies and otherwise runs wasm's own. */
export function outerReduceKernel(kind: 'sum' | 'mean', original: tf.KernelConfig): KernelFunc {
  const fallback = wasmFallback(original);
  return (args) => {
    const x = args.inputs.x as tf.Tensor;
    const { axis, keepDims } = (args.attrs ?? {}) as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape);
    if (axes.some((a) => x.shape[a] === 0)) {
      // Nothing to reduce: Σ∅ = 0 and the mean of nothing is NaN (wasm's own Mean returns uninitialised memory).
      const dtype = kind === 'mean' ? 'float32' : x.dtype === 'bool' ? 'int32' : x.dtype;
      return tf.fill(outShape(x.shape, axes, keepDims), kind === 'mean' ? NaN : 0, dtype as 'float32' | 'int32');
    }
    const view = x.dtype === 'float32' ? reductionView(x.shape, axes) : null;
    if (!view) return fallback(args);
    const [pre, a, b, post] = view;
    return tf.tidy(() => {
      const mean = tf.avgPool(tf.reshape(x, [pre, a, b, post]) as tf.Tensor4D, [a, b], [a, b], 'valid');
      // Sum as mean·count: within an ulp or two of a float32 sum, and float inputs only (counts of int or
      // bool tensors stay on wasm's exact kernel).
      return tf.reshape(kind === 'sum' ? tf.mul(mean, a * b) : mean, outShape(x.shape, axes, keepDims));
    });
  };
}
