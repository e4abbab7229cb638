/**
 * Grad-CAM (Selvaraju et al., 2017) on the lesion map: with A the features of a stage and s the lesion
 * score, α_c = mean_xy ∂s/∂A_c and CAM = ReLU(Σ_c α_c A_c). It is returned unscaled: the caller scales it
 * to [0, 1] over the region it shows (the image, not the letterbox padding, where the maximum may lie).
 * The lesion score is the probability-weighted mean of the lesion logits over the image region, with the
 * weights held constant, so the gradient asks "what raises the logits where the model sees lesion".
 */
import * as tf from '@tensorflow/tfjs';
import { LESION_LOGITS } from './model.ts';

/**
 * Run a functional model layer by layer on concrete tensors, replacing the output of `replace.layer` with
 * `replace.value` (so a gradient can be taken with respect to an intermediate tensor). Returns the
 * outputs of the layers named in `want`.
 */
export function runGraph(model: tf.LayersModel, input: tf.Tensor, want: string[], replace?: { layer: string; value: tf.Tensor }): Map<string, tf.Tensor> {
  const values = new Map<number, tf.Tensor>();
  values.set(model.inputs[0].id, input);
  const out = new Map<string, tf.Tensor>();
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = layer.inboundNodes[0];
    const inputs = node.inputTensors.map((s) => {
      const v = values.get(s.id);
      if (!v) throw new Error(`runGraph: ${layer.name} needs a tensor that was not computed`);
      return v;
    });
    let result = layer.apply(inputs.length === 1 ? inputs[0] : inputs, { training: false }) as tf.Tensor | tf.Tensor[];
    if (replace && layer.name === replace.layer) result = replace.value;
    const results = Array.isArray(result) ? result : [result];
    node.outputTensors.forEach((s, i) => values.set(s.id, results[i]));
    if (want.includes(layer.name)) out.set(layer.name, results[0]);
  }
  return out;
}

/**
 * The Grad-CAM map of `layer` at that layer's resolution (row-major, `rows × cols`), for a [1, S, S, 3]
 * input. `regionMask` ([1, S/4, S/4, 1], 1 inside the image) limits the score to the real image.
 */
export function gradCam(model: tf.LayersModel, input: tf.Tensor4D, layer: string, regionMask: tf.Tensor4D): { data: Float32Array; rows: number; cols: number } {
  const cam = tf.tidy(() => {
    const first = runGraph(model, input, [layer, LESION_LOGITS]);
    const features = first.get(layer) as tf.Tensor4D;
    if (!features || features.rank !== 4) throw new Error(`Grad-CAM needs a 4-D feature layer; '${layer}' is not one`);
    const weights = tf.mul(tf.sigmoid(first.get(LESION_LOGITS)!), regionMask);
    const total = tf.add(tf.sum(weights), 1e-6);
    const score = (f: tf.Tensor) => {
      const logits = runGraph(model, input, [LESION_LOGITS], { layer, value: f }).get(LESION_LOGITS)!;
      return tf.div(tf.sum(tf.mul(logits, weights)), total) as tf.Scalar;
    };
    const grads = tf.grad(score)(features) as tf.Tensor4D;
    const alpha = tf.mean(grads, [1, 2], true); // [1, 1, 1, C]
    return tf.relu(tf.sum(tf.mul(features, alpha), 3)); // [1, h, w]
  });
  const [, rows, cols] = cam.shape;
  const data = cam.dataSync() as Float32Array;
  cam.dispose();
  return { data: Float32Array.from(data), rows, cols };
}
