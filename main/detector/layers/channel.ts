/**
 * Channel attention: which feature maps matter for this image.
 *
 * SqueezeExcite (Hu et al., 2018): s = σ(W₂ ReLU(W₁ GAP(x))), y = x ⊙ s.
 * ChannelGate (Woo et al., 2018, CBAM): one MLP shared by the average- and max-pooled descriptors,
 * s = σ(MLP(AvgPool(x)) + MLP(MaxPool(x))), y = x ⊙ s.
 * Pooling is a mean/max reduction over the spatial axes (no MaxPool op: its wasm gradient is wrong).
 */
import * as tf from '@tensorflow/tfjs';

export interface ChannelAttentionArgs {
  /** Reduction ratio r of the bottleneck (hidden units = max(8, C / r): fewer risks every unit starting dead). */
  ratio?: number;
  name?: string;
  trainable?: boolean;
}

type Kwargs = Record<string, unknown>;
type Shape = (number | null)[];

function hiddenUnits(channels: number, ratio: number): number {
  return Math.max(8, Math.floor(channels / ratio));
}

/** A two-layer bottleneck MLP's weights, shared by both channel-attention layers. */
abstract class ChannelAttention extends tf.layers.Layer {
  protected readonly ratio: number;
  protected w1!: tf.LayerVariable;
  protected b1!: tf.LayerVariable;
  protected w2!: tf.LayerVariable;
  protected b2!: tf.LayerVariable;

  constructor(args: ChannelAttentionArgs = {}) {
    super(args);
    this.ratio = args.ratio ?? 4;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const c = shape[shape.length - 1] as number;
    const h = hiddenUnits(c, this.ratio);
    this.w1 = this.addWeight('w1', [c, h], 'float32', tf.initializers.heNormal({ seed: undefined }));
    this.b1 = this.addWeight('b1', [h], 'float32', tf.initializers.zeros());
    this.w2 = this.addWeight('w2', [h, c], 'float32', tf.initializers.glorotUniform({}));
    this.b2 = this.addWeight('b2', [c], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  /** [N, C] descriptor → [N, C] pre-sigmoid channel logits. */
  protected mlp(d: tf.Tensor2D): tf.Tensor2D {
    const hidden = tf.relu(tf.add(tf.matMul(d, this.w1.read() as tf.Tensor2D), this.b1.read()));
    return tf.add(tf.matMul(hidden as tf.Tensor2D, this.w2.read() as tf.Tensor2D), this.b2.read()) as tf.Tensor2D;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ratio: this.ratio };
  }

  /** Multiply-adds of the MLP (per image), for the analytic FLOP count. */
  flops(inputShape: Shape): number {
    const [, h, w, c] = inputShape as number[];
    const hidden = hiddenUnits(c, this.ratio);
    return 2 * (2 * c * hidden) * this.descriptors() + 2 * h * w * c * this.descriptors() + h * w * c;
  }

  protected abstract descriptors(): number;
}

export class SqueezeExcite extends ChannelAttention {
  static readonly className = 'SqueezeExcite';

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const squeeze = tf.mean(x, [1, 2]) as tf.Tensor2D;
      const excite = tf.sigmoid(this.mlp(squeeze));
      return tf.mul(x, tf.reshape(excite, [-1, 1, 1, x.shape[3]]));
    });
  }

  protected descriptors(): number {
    return 1;
  }
}

export class ChannelGate extends ChannelAttention {
  static readonly className = 'ChannelGate';

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const avg = tf.mean(x, [1, 2]) as tf.Tensor2D;
      const max = tf.max(x, [1, 2]) as tf.Tensor2D;
      const scale = tf.sigmoid(tf.add(this.mlp(avg), this.mlp(max)));
      return tf.mul(x, tf.reshape(scale, [-1, 1, 1, x.shape[3]]));
    });
  }

  protected descriptors(): number {
    return 2;
  }
}

tf.serialization.registerClass(SqueezeExcite);
tf.serialization.registerClass(ChannelGate);
