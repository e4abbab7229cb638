/**
 * Sub-pixel upsampling (Shi et al., 2016): [N, h, w, r²·C] → [N, r·h, r·w, C] by reshape and transpose
 * only. The decoder upsamples with this instead of UpSampling2D/resize, whose gradients are wrong or
 * missing on the backends this project trains on; reshape/transpose gradients are exact.
 */
import * as tf from '@tensorflow/tfjs';

type Kwargs = Record<string, unknown>;
type Shape = (number | null)[];

export interface PixelShuffleArgs {
  factor?: number;
  name?: string;
  trainable?: boolean;
}

/** The functional form, also used by tests against finite differences. */
export function pixelShuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [n, h, w, rrc] = x.shape;
  const c = rrc / (r * r);
  if (!Number.isInteger(c)) throw new Error(`pixelShuffle: ${rrc} channels is not a multiple of ${r * r}`);
  // Channel index k = (i·r + j)·C + ch holds output pixel (y·r + i, x·r + j), channel ch.
  const split = tf.reshape(x, [n * h, w, r, r, c]);
  const interleaved = tf.transpose(split, [0, 2, 1, 3, 4]); // [n·h, i, w, j, c]
  return tf.reshape(interleaved, [n, h * r, w * r, c]) as tf.Tensor4D;
}

export class PixelShuffle extends tf.layers.Layer {
  static readonly className = 'PixelShuffle';
  readonly factor: number;

  constructor(args: PixelShuffleArgs = {}) {
    super(args);
    this.factor = args.factor ?? 2;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => pixelShuffle((Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D, this.factor));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [n, h, w, c] = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const r = this.factor;
    return [n, h == null ? null : h * r, w == null ? null : w * r, c == null ? null : c / (r * r)];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factor: this.factor };
  }
}

tf.serialization.registerClass(PixelShuffle);
