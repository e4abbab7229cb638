/**
 * Non-local self-attention over spatial positions (Wang et al., 2018; Zhang et al., 2019 for the
 * zero-initialised residual scale), in two layers so the attention matrix is a named graph tensor:
 *   NonLocalAttention:  q = xW_q, k = xW_k (1×1 projections to d channels),  A = softmax(q kᵀ / √d)  → [N, hw, hw]
 *   NonLocalAggregate:  v = xW_v,  z = A v,  y = x + γ · (z W_o)     with γ = 0 at initialisation,
 * so a freshly built block is the identity and training decides how much non-local context to mix in.
 */
import * as tf from '@tensorflow/tfjs';

type Kwargs = Record<string, unknown>;
type Shape = (number | null)[];

export interface NonLocalArgs {
  /** Channels d of the query/key/value projections (default C / 2). */
  innerChannels?: number;
  name?: string;
  trainable?: boolean;
}

function firstShape(inputShape: Shape | Shape[]): Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
}

/** x [N,h,w,C] · W [C,d] + b → [N·h·w, d] (a 1×1 convolution as one matrix product). */
/** The width d of q, k and v: half the channels (at least 8) unless set; both non-local layers must agree. */
function innerWidth(channels: number, requested: number | undefined): number {
  return requested ?? Math.max(8, Math.floor(channels / 2));
}

function project(x: tf.Tensor4D, w: tf.LayerVariable, b: tf.LayerVariable): tf.Tensor2D {
  const c = x.shape[3];
  return tf.add(tf.matMul(tf.reshape(x, [-1, c]) as tf.Tensor2D, w.read() as tf.Tensor2D), b.read()) as tf.Tensor2D;
}

export class NonLocalAttention extends tf.layers.Layer {
  static readonly className = 'NonLocalAttention';
  readonly innerChannels: number | undefined;
  private d = 0;
  private wq!: tf.LayerVariable;
  private bq!: tf.LayerVariable;
  private wk!: tf.LayerVariable;
  private bk!: tf.LayerVariable;

  constructor(args: NonLocalArgs = {}) {
    super(args);
    this.innerChannels = args.innerChannels;
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = firstShape(inputShape)[3] as number;
    this.d = innerWidth(c, this.innerChannels);
    this.wq = this.addWeight('wq', [c, this.d], 'float32', tf.initializers.glorotUniform({}));
    this.bq = this.addWeight('bq', [this.d], 'float32', tf.initializers.zeros());
    this.wk = this.addWeight('wk', [c, this.d], 'float32', tf.initializers.glorotUniform({}));
    this.bk = this.addWeight('bk', [this.d], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w] = x.shape;
      const q = tf.reshape(project(x, this.wq, this.bq), [n, h * w, this.d]) as tf.Tensor3D;
      const k = tf.reshape(project(x, this.wk, this.bk), [n, h * w, this.d]) as tf.Tensor3D;
      // q·kᵀ with kᵀ materialised: wasm's transposeB matmul path is several times slower than a plain one.
      const logits = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(this.d));
      return tf.softmax(logits, -1);
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [n, h, w] = firstShape(inputShape);
    const hw = h != null && w != null ? h * w : null;
    return [n, hw, hw];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), innerChannels: this.innerChannels ?? null };
  }

  flops(inputShape: Shape): number {
    const [, h, w, c] = inputShape as number[];
    const d = innerWidth(c, this.innerChannels);
    const p = h * w;
    return 2 * (2 * p * c * d) + 2 * p * p * d + 5 * p * p;
  }
}

export class NonLocalAggregate extends tf.layers.Layer {
  static readonly className = 'NonLocalAggregate';
  readonly innerChannels: number | undefined;
  private d = 0;
  private wv!: tf.LayerVariable;
  private bv!: tf.LayerVariable;
  private wo!: tf.LayerVariable;
  private bo!: tf.LayerVariable;
  private gamma!: tf.LayerVariable;

  constructor(args: NonLocalArgs = {}) {
    super(args);
    this.innerChannels = args.innerChannels;
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = firstShape(inputShape)[3] as number;
    this.d = innerWidth(c, this.innerChannels);
    this.wv = this.addWeight('wv', [c, this.d], 'float32', tf.initializers.glorotUniform({}));
    this.bv = this.addWeight('bv', [this.d], 'float32', tf.initializers.zeros());
    this.wo = this.addWeight('wo', [this.d, c], 'float32', tf.initializers.glorotUniform({}));
    this.bo = this.addWeight('bo', [c], 'float32', tf.initializers.zeros());
    this.gamma = this.addWeight('gamma', [1], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [x, attention] = inputs as [tf.Tensor4D, tf.Tensor3D];
      const [n, h, w, c] = x.shape;
      const v = tf.reshape(project(x, this.wv, this.bv), [n, h * w, this.d]) as tf.Tensor3D;
      const z = tf.reshape(tf.matMul(attention, v), [-1, this.d]) as tf.Tensor2D;
      const out = tf.add(tf.matMul(z, this.wo.read() as tf.Tensor2D), this.bo.read());
      return tf.add(x, tf.mul(this.gamma.read(), tf.reshape(out, [n, h, w, c])));
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return firstShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), innerChannels: this.innerChannels ?? null };
  }

  flops(inputShape: Shape): number {
    const [, h, w, c] = inputShape as number[];
    const d = innerWidth(c, this.innerChannels);
    const p = h * w;
    return 2 * p * c * d + 2 * p * p * d + 2 * p * d * c + 3 * p * c;
  }
}

tf.serialization.registerClass(NonLocalAttention);
tf.serialization.registerClass(NonLocalAggregate);
