/**
 * The training objective of a detector: the lesion-map loss, plus, for variants with CBAM spatial gates,
 * supervision of the gate nearest the output by the lesion mask (BCE of its values, and a pointing loss on its order).
 *
 * Why supervise the gate: left to itself, CBAM's spatial gate learns whatever re-weighting helps the
 * decoder, which is rarely "the lesion" (shipped unsupervised models put the stage-4 gate's maximum inside
 * the lesion for 18% (BUSI) and 52% (Kvasir) of test lesions). A clinician reads the map as "where the
 * model looks", so the studio trains it to mean that, from the mask at the gate's resolution, as in
 * attention-guided training (Li et al., "Tell Me Where to Look", CVPR 2018). Only the gate nearest the output is supervised (the decoder's; stage 4's in models
 * trained before the decoder gate): earlier gates stay free to pass the context the decoder
 * needs, and the viewer shows both kinds.
 */
import * as tf from '@tensorflow/tfjs';
import { lastSpatialGate, LESION_OUTPUT } from '../detector/model.ts';
import { attentionLoss, lesionLoss, pointingLoss } from './loss.ts';

// The gate term's default weight, against a lesion loss (focal ×10 + Dice) of ≈ 0.3–1 during training.
export { DEFAULT_ATTENTION_WEIGHT } from '../../preload/contract.ts';

/** The spatial gate the objective supervises, and the pointing game scores: the one nearest the output, if any. */
export const supervisedGate = lastSpatialGate;

export type Objective = (x: tf.Tensor4D, y: tf.Tensor4D) => tf.Scalar;

/**
 * The gate's supervision: BCE makes each cell's value the share of lesion under it; the pointing loss
 * makes lesion cells outrank the rest. BCE alone (weight 2, 3 epochs from the unsupervised busi-cbam)
 * left the gate's maximum in the lesion for 39% of validation lesions; with the pointing term (weight
 * 0.5, same start) 79%, and validation Dice rose too (0.655 → 0.686).
 */
export function gateSupervision(gate: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(attentionLoss(gate, target), pointingLoss(gate, target)) as tf.Scalar);
}

// One graph per model: tf.model over the model's own symbolic tensors shares its layers and weights.
const graphs = new WeakMap<tf.LayersModel, tf.LayersModel>();

/**
 * The loss of `model` on images `x` [n,S,S,3] against area-averaged lesion targets `y` [n,S/4,S/4,1],
 * run in training mode (BatchNorm batch statistics). `attentionWeight` 0 trains the lesion map alone.
 */
export function detectorObjective(model: tf.LayersModel, attentionWeight: number): Objective {
  const gate = attentionWeight > 0 ? supervisedGate(model) : undefined;
  if (!gate) return (x, y) => lesionLoss(model.apply(x, { training: true }) as tf.Tensor, y);
  let graph = graphs.get(model);
  if (!graph) {
    const outputs = [model.getLayer(LESION_OUTPUT).output, model.getLayer(gate).output] as tf.SymbolicTensor[];
    graph = tf.model({ inputs: model.inputs, outputs, name: `${model.name}_supervised` });
    graphs.set(model, graph);
  }
  const g = graph;
  return (x, y) =>
    tf.tidy(() => {
      const [lesion, map] = g.apply(x, { training: true }) as tf.Tensor[];
      return tf.add(lesionLoss(lesion, y), tf.mul(attentionWeight, gateSupervision(map, y))) as tf.Scalar;
    });
}
