/**
 * Loss on the lesion map: focal loss (down-weights the many easy background cells, so small lesions
 * are not drowned) plus soft Dice (directly rewards overlap, insensitive to lesion size).
 */
import * as tf from '@tensorflow/tfjs';

export interface LossOptions {
  alpha?: number;
  gamma?: number;
  diceWeight?: number;
}

/** `prob` and `target` are [N, h, w, 1]; `prob` is the sigmoid output, target the area-averaged mask. */
export function lesionLoss(prob: tf.Tensor, target: tf.Tensor, { alpha = 0.75, gamma = 2, diceWeight = 1 }: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const eps = 1e-6;
    const p = tf.clipByValue(prob, eps, 1 - eps);
    const t = target;
    // Soft-target focal loss: −α t (1−p)^γ log p − (1−α)(1−t) p^γ log(1−p).
    const pos = tf.mul(tf.mul(t, gamma === 2 ? tf.square(tf.sub(1, p)) : tf.pow(tf.sub(1, p), gamma)), tf.log(p));
    const neg = tf.mul(tf.mul(tf.sub(1, t), gamma === 2 ? tf.square(p) : tf.pow(p, gamma)), tf.log(tf.sub(1, p)));
    const focal = tf.neg(tf.mean(tf.add(tf.mul(alpha, pos), tf.mul(1 - alpha, neg))));
    // Per-image soft Dice, averaged: each image counts the same whatever its lesion size.
    const inter = tf.sum(tf.mul(prob, t), [1, 2, 3]);
    const denom = tf.add(tf.sum(prob, [1, 2, 3]), tf.sum(t, [1, 2, 3]));
    const dice = tf.sub(1, tf.mean(tf.div(tf.add(tf.mul(2, inter), 1), tf.add(denom, 1))));
    // Focal is small in absolute terms (mean over mostly-easy cells): scale it to weigh like Dice.
    return tf.add(tf.mul(focal, 10), tf.mul(dice, diceWeight)) as tf.Scalar;
  });
}

/**
 * Attention supervision: binary cross-entropy between a spatial gate `gate` [N, h, w, 1] (sigmoid) and
 * the lesion target `target` [N, H, W, 1] (area-averaged mask) pooled to the gate's resolution. H/h must
 * be a whole number; the pooling is a reshape and a mean, so it needs no pooling kernel or gradient.
 */
export function attentionLoss(gate: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const t = poolTo(target, gate);
    const eps = 1e-6;
    const g = tf.clipByValue(gate, eps, 1 - eps);
    const bce = tf.add(tf.mul(t, tf.log(g)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, g))));
    return tf.neg(tf.mean(bce)) as tf.Scalar;
  });
}

/** The lesion target [N, H, W, 1] averaged over each cell of `like` [N, h, w, 1]; H/h must be whole. */
function poolTo(target: tf.Tensor, like: tf.Tensor): tf.Tensor {
  const [n, h, w] = like.shape as number[];
  const [, H, W] = target.shape as number[];
  const f = H / h;
  if (!Number.isInteger(f) || f < 1 || W / w !== f) throw new Error(`attention target ${H}×${W} is not a whole multiple of the gate ${h}×${w}`);
  return f === 1 ? target : tf.reshape(tf.mean(tf.reshape(target, [n, h, f, w, f]), [2, 4]), [n, h, w, 1]);
}

/**
 * Pointing loss: the gate read as a distribution over positions (a softmax of its logits) against the
 * lesion's own distribution (the pooled mask, normalised), by cross-entropy. BCE asks each cell for the
 * right value; this asks for the right order, so the gate's maximum lands in the lesion, which is what
 * the pointing game scores and what a reader of the map takes from it. Images without lesion add nothing.
 */
export function pointingLoss(gate: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [n, h, w] = gate.shape as number[];
    const eps = 1e-6;
    const g = tf.clipByValue(tf.reshape(gate, [n, h * w]), eps, 1 - eps);
    const logits = tf.sub(tf.log(g), tf.log(tf.sub(1, g)));
    const t = tf.reshape(poolTo(target, gate), [n, h * w]);
    const q = tf.div(t, tf.add(tf.sum(t, 1, true), eps));
    return tf.neg(tf.mean(tf.sum(tf.mul(q, tf.logSoftmax(logits, 1)), 1))) as tf.Scalar;
  });
}
