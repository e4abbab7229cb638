/**
 * Cheaper, mathematically identical gradients for two ops the detector trains through.
 *
 * tfjs-core's gradients for `Max` (CBAM's channel-max pooling) and `FusedBatchNorm` build an `Equal` with
 * broadcasting and a `Tile` of the full activation shape; on wasm both fall to generic index loops and
 * took ~45% of a training step (measured, 8×256² CBAM). The versions here broadcast through `Sub`/`Mul`
 * instead, which XNNPACK runs at memory speed. They are registered globally (gradients are not per
 * backend) and give the same values on every backend.
 */
import * as tf from '@tensorflow/tfjs';

function keepDims(shape: number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** d max(x)/dx = dy where x equals the max, else 0. For finite x, x == y ⇔ y − x == 0, so 1 − sign(y − x) is that mask. */
const maxGrad: tf.GradConfig = {
  kernelName: 'Max',
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, y] = saved;
    const axes = tf.util.parseAxisParam((attrs as { reductionIndices: number | number[] }).reductionIndices, x.shape);
    const shape = keepDims(x.shape, axes);
    return {
      x: () => {
        const yk = tf.reshape(y, shape);
        const dyk = tf.reshape(dy as tf.Tensor, shape);
        const mask = tf.sub(1, tf.sign(tf.sub(yk, x)));
        return tf.mul(dyk, mask);
      },
    };
  },
};

/** tfjs-core's FusedBatchNorm gradient with its Tile replaced by a broadcasting multiply (same values). */
const batchNormGrad: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved;
    const g = dy as tf.Tensor;
    const scaleValue = scale == null ? tf.scalar(1) : scale;
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const perChannel = mean.rank === 1;
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(g, scaleValue);
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const minusHalfRCube = tf.mul(tf.mul(tf.mul(rstd, rstd), rstd), tf.scalar(-0.5));
    const reduce = (t: tf.Tensor) => tf.reshape(perChannel ? tf.sum(t, reductionAxes) : t, mean.shape);
    return {
      x: () => tf.reshape(tf.mul(tf.mul(g, rstd), scaleValue), x.shape),
      mean: () => reduce(tf.mul(tf.mul(rstd, tf.scalar(-1)), dyTimesScale)),
      variance: () => reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScale)),
      scale: () => reduce(tf.mul(g, tf.mul(xMinusMean, rstd))),
      offset: () => reduce(g),
    };
  },
};

export const FAST_GRADIENTS = [maxGrad, batchNormGrad];

export function registerFastGradients(): void {
  for (const config of FAST_GRADIENTS) tf.registerGradient(config);
}
