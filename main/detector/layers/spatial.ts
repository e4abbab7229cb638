/**
 * CBAM's spatial gate (Woo et al., 2018), split in two layers so the attention map itself is a named
 * tensor of the graph that the inference model can expose:
 *   SpatialAttentionMap: M = σ(conv7×7([mean_c(x); max_c(x)]) + b)   → [N, h, w, 1]
 *   ApplySpatialGate:    y = x ⊙ M                                 (M broadcast over channels)
 */
import * as tf from '@tensorflow/tfjs';

type Kwargs = Record<string, unknown>;
type Shape = (number | null)[];

export interface SpatialAttentionMapArgs {
  kernelSize?: number;
  name?: string;
  trainable?: boolean;
}

export class SpatialAttentionMap extends tf.layers.Layer {
  static readonly className = 'SpatialAttentionMap';
  readonly kernelSize: number;
  private kernel!: tf.LayerVariable;
  private bias!: tf.LayerVariable;

  constructor(args: SpatialAttentionMapArgs = {}) {
    super(args);
    this.kernelSize = args.kernelSize ?? 7;
  }

  override build(_inputShape: Shape | Shape[]): void {
    const k = this.kernelSize;
    this.kernel = this.addWeight('kernel', [k, k, 2, 1], 'float32', tf.initializers.glorotUniform({}));
    this.bias = this.addWeight('bias', [1], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      // conv7×7 over [mean; max] computed as the sum of one 1-channel conv per descriptor: the same
      // arithmetic, without a last-axis concat (slow on wasm) or a 2→1-channel conv (a poor XNNPACK shape).
      const k = this.kernelSize;
      const kernel = this.kernel.read() as tf.Tensor4D;
      const onMean = tf.conv2d(tf.mean(x, 3, true) as tf.Tensor4D, tf.slice(kernel, [0, 0, 0, 0], [k, k, 1, 1]), 1, 'same');
      const onMax = tf.conv2d(tf.max(x, 3, true) as tf.Tensor4D, tf.slice(kernel, [0, 0, 1, 0], [k, k, 1, 1]), 1, 'same');
      return tf.sigmoid(tf.add(tf.add(onMean, onMax), this.bias.read()));
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [s[0], s[1], s[2], 1];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kernelSize: this.kernelSize };
  }

  flops(inputShape: Shape): number {
    const [, h, w, c] = inputShape as number[];
    return h * w * (2 * c + 2 * this.kernelSize * this.kernelSize * 2 + 2);
  }
}

export class ApplySpatialGate extends tf.layers.Layer {
  static readonly className = 'ApplySpatialGate';

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [x, map] = inputs as tf.Tensor[];
      return tf.mul(x, map);
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (inputShape as Shape[])[0];
  }

  flops(inputShape: Shape): number {
    const [, h, w, c] = inputShape as number[];
    return h * w * c;
  }
}

tf.serialization.registerClass(SpatialAttentionMap);
tf.serialization.registerClass(ApplySpatialGate);
