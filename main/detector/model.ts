/**
 * The detector's model family: one backbone, four variants that differ only in their attention modules,
 * so comparisons between them are fair.
 *
 *   input [N, S, S, 3] in [0, 1]
 *   4 stages, stage k at stride 2^k: conv3×3/2 → BN → ReLU → conv3×3 → BN → ReLU → attention(k) → `stage{k}/out`
 *     baseline: none · se: SqueezeExcite · cbam: ChannelGate then spatial gate
 *     nonlocal: cbam, plus non-local self-attention at stage 4
 *   decoder (top-down, like an FPN with sub-pixel upsampling): stage4 → ×2 + lateral(stage3) → conv
 *     [→ decoder spatial gate, cbam and nonlocal] → ×2 + lateral(stage2) → conv → 1×1 → `lesion_logits`
 *     → sigmoid `lesion`  [N, S/4, S/4, 1]
 *
 * The decoder gate is a CBAM spatial gate on the stride-8 decoder features, which carry stage 4's context
 * and stage 3's detail: the map training supervises with the lesion mask and the pointing game scores.
 * Models trained before it existed (their gates end at stage 4) load and run as they were.
 *
 * Constraints from training on wasm/cpu (see shared FACTS): no MaxPool, no UpSampling2D, no resize ops
 * in the graph; pooling is mean/max reduction, upsampling is PixelShuffle (reshape/transpose).
 */
import * as tf from '@tensorflow/tfjs';
import { hasSpatialGates, INPUT_SIZE, VARIANTS, type Variant } from '../../preload/contract.ts';
import { ApplySpatialGate, ChannelGate, NonLocalAggregate, NonLocalAttention, PixelShuffle, SpatialAttentionMap, SqueezeExcite } from './layers/index.ts';

export { VARIANTS, type Variant };

export interface ModelConfig {
  variant: Variant;
  /** Square input side in pixels; a multiple of 16 (the deepest stride). */
  inputSize: number;
  /** Channels of the four stages. */
  widths?: number[];
  /** Channels of the decoder. */
  decoderWidth?: number;
  /** Prior lesion probability the output bias starts at (keeps early focal/BCE losses stable). */
  priorProbability?: number;
  /** A CBAM spatial gate on the stride-8 decoder features (variants with spatial gates; default on). */
  decoderGate?: boolean;
}

export const DEFAULT_WIDTHS = [16, 32, 64, 96];
export const DEFAULT_DECODER_WIDTH = 24;
/** The output map's stride relative to the input. */
export const OUTPUT_STRIDE = 4;
export const LESION_OUTPUT = 'lesion';
export const LESION_LOGITS = 'lesion_logits';
/** The decoder's spatial gate, at stride 8. */
export const DECODER_GATE = 'decoder/cbam_spatial8';
/** The layer that reads the decoder gate's output. */
const GATE_FEEDS = 'decoder/expand8';

export function stageOutputName(stage: number): string {
  return `stage${stage}/out`;
}

/**
 * Where an attention module sits: its backbone stage (1 = shallowest), or the decoder. Read from the name
 * the builder gave the layer, here beside the builder, so nothing else parses layer names.
 */
export function attentionStage(name: string): number | 'decoder' {
  if (name.startsWith('decoder/')) return 'decoder';
  const stage = /^stage(\d+)\//.exec(name);
  if (!stage) throw new Error(`'${name}' is not an attention layer of a studio model`);
  return Number(stage[1]);
}

/** The features Grad-CAM differentiates against: the deepest stage, after its attention. */
export const GRADCAM_LAYER = stageOutputName(4);

function convBnRelu(x: tf.SymbolicTensor, filters: number, strides: number, name: string, folded = false): tf.SymbolicTensor {
  if (folded) {
    // Inference form: BatchNorm folded into the kernel and bias, ReLU fused into the same conv kernel.
    return tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias: true, activation: 'relu', name: `${name}/conv` }).apply(x) as tf.SymbolicTensor;
  }
  const conv = tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias: false, kernelInitializer: 'heNormal', name: `${name}/conv` });
  const bn = tf.layers.batchNormalization({ axis: 3, name: `${name}/bn` });
  const relu = tf.layers.reLU({ name: `${name}/relu` });
  return relu.apply(bn.apply(conv.apply(x))) as tf.SymbolicTensor;
}

function conv1x1(x: tf.SymbolicTensor, filters: number, name: string, useBias = true): tf.SymbolicTensor {
  return tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias, kernelInitializer: 'heNormal', name }).apply(x) as tf.SymbolicTensor;
}

function attention(x: tf.SymbolicTensor, variant: Variant, stage: number): tf.SymbolicTensor {
  const p = `stage${stage}`;
  if (variant === 'se') return new SqueezeExcite({ name: `${p}/se` }).apply(x) as tf.SymbolicTensor;
  if (hasSpatialGates(variant)) {
    const gated = new ChannelGate({ name: `${p}/cbam_channel` }).apply(x) as tf.SymbolicTensor;
    const map = new SpatialAttentionMap({ name: `${p}/cbam_spatial` }).apply(gated) as tf.SymbolicTensor;
    let y = new ApplySpatialGate({ name: `${p}/cbam_apply` }).apply([gated, map]) as tf.SymbolicTensor;
    if (variant === 'nonlocal' && stage === 4) {
      const affinity = new NonLocalAttention({ name: `${p}/nonlocal_attention` }).apply(y) as tf.SymbolicTensor;
      y = new NonLocalAggregate({ name: `${p}/nonlocal` }).apply([y, affinity]) as tf.SymbolicTensor;
    }
    return y;
  }
  return x;
}

function checkConfig(config: ModelConfig): Required<ModelConfig> {
  if (!VARIANTS.includes(config.variant)) throw new Error(`unknown variant '${config.variant}' (expected ${VARIANTS.join(', ')})`);
  if (!Number.isInteger(config.inputSize) || config.inputSize < INPUT_SIZE.min || config.inputSize % INPUT_SIZE.multipleOf !== 0) {
    throw new Error(`inputSize must be a multiple of ${INPUT_SIZE.multipleOf} and at least ${INPUT_SIZE.min} (got ${config.inputSize})`);
  }
  const widths = config.widths ?? DEFAULT_WIDTHS;
  if (widths.length !== 4 || widths.some((w) => !Number.isInteger(w) || w < 4)) throw new Error('widths must be four channel counts ≥ 4');
  return {
    variant: config.variant,
    inputSize: config.inputSize,
    widths,
    decoderWidth: config.decoderWidth ?? DEFAULT_DECODER_WIDTH,
    priorProbability: config.priorProbability ?? 0.05,
    decoderGate: hasSpatialGates(config.variant) && (config.decoderGate ?? true),
  };
}

/**
 * The training model: input [N, S, S, 3] floats in [0, 1] → lesion probability [N, S/4, S/4, 1] (sigmoid).
 * Layer names are stable (`stage{k}/…`, `decoder/…`, `lesion_logits`, `lesion`): the inference model,
 * Grad-CAM and the ONNX exporter find tensors by them.
 */
export function buildModel(config: ModelConfig): tf.LayersModel {
  return build(config, false);
}

function build(config: ModelConfig, folded: boolean): tf.LayersModel {
  const c = checkConfig(config);
  const input = tf.input({ shape: [c.inputSize, c.inputSize, 3], name: 'image' });
  const stages: tf.SymbolicTensor[] = [];
  let x = input;
  for (let k = 1; k <= 4; k++) {
    x = convBnRelu(x, c.widths[k - 1], 2, `stage${k}/down`, folded);
    x = convBnRelu(x, c.widths[k - 1], 1, `stage${k}/body`, folded);
    x = attention(x, c.variant, k);
    x = tf.layers.activation({ activation: 'linear', name: stageOutputName(k) }).apply(x) as tf.SymbolicTensor;
    stages.push(x);
  }
  const d = c.decoderWidth;
  // Stride 16 → 8: sub-pixel upsampling, then merge the stage-3 lateral.
  let y = new PixelShuffle({ factor: 2, name: 'decoder/up8' }).apply(conv1x1(stages[3], 4 * d, 'decoder/expand16')) as tf.SymbolicTensor;
  y = tf.layers.add({ name: 'decoder/merge8' }).apply([y, conv1x1(stages[2], d, 'decoder/lateral8')]) as tf.SymbolicTensor;
  y = convBnRelu(y, d, 1, 'decoder/refine8', folded);
  if (c.decoderGate) {
    // Stage 4's gate sees the whole image but peaks only at 16-px cell centres; this one, on features
    // that already hold stage 4's context, resolves 8-px cells.
    const map = new SpatialAttentionMap({ name: DECODER_GATE }).apply(y) as tf.SymbolicTensor;
    y = new ApplySpatialGate({ name: 'decoder/cbam_apply8' }).apply([y, map]) as tf.SymbolicTensor;
  }
  // Stride 8 → 4, merge stage 2.
  y = new PixelShuffle({ factor: 2, name: 'decoder/up4' }).apply(conv1x1(y, 4 * d, 'decoder/expand8')) as tf.SymbolicTensor;
  y = tf.layers.add({ name: 'decoder/merge4' }).apply([y, conv1x1(stages[1], d, 'decoder/lateral4')]) as tf.SymbolicTensor;
  y = convBnRelu(y, d, 1, 'decoder/refine4', folded);
  const prior = c.priorProbability;
  const logits = tf.layers
    .conv2d({ filters: 1, kernelSize: 1, padding: 'same', name: LESION_LOGITS, biasInitializer: tf.initializers.constant({ value: Math.log(prior / (1 - prior)) }) })
    .apply(y) as tf.SymbolicTensor;
  const lesion = tf.layers.activation({ activation: 'sigmoid', name: LESION_OUTPUT }).apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: lesion, name: `detector_${c.variant}${folded ? '_folded' : ''}` });
}

/** The configuration a built or loaded model was made with, read from its layers. */
export function modelConfigOf(model: tf.LayersModel): Required<Omit<ModelConfig, 'priorProbability'>> {
  const outChannels = (name: string) => (model.getLayer(name).getWeights()[0].shape as number[])[3];
  return {
    variant: inferVariant(model),
    inputSize: model.inputs[0].shape[1] as number,
    widths: [1, 2, 3, 4].map((k) => outChannels(`stage${k}/down/conv`)),
    decoderWidth: outChannels('decoder/lateral8'),
    decoderGate: model.layers.some((l) => l.name === DECODER_GATE),
  };
}

/**
 * A model of a spatial-gate variant trained before the decoder gate existed, rebuilt with one: every
 * other layer keeps its trained weights (matched by name). Fine-tuning uses it, so a base of the old
 * architecture trains into the current one. Other models are returned as they are.
 *
 * The upgrade preserves the base's function exactly: the new gate starts with a zero kernel (so it is
 * sigmoid(0) = 0.5 on every cell) and the 1×1 conv it feeds has its kernel doubled, which undoes the
 * halving. A fresh random gate would instead scale decoder features by an arbitrary map, and the first
 * epochs of a fine-tune would be spent repairing a model that had been good. The zero kernel still
 * learns: its gradient is the gate's input descriptors times the sigmoid's slope, not zero.
 */
export function withDecoderGate(model: tf.LayersModel): tf.LayersModel {
  const config = modelConfigOf(model);
  if (config.decoderGate || !hasSpatialGates(config.variant)) return model;
  const upgraded = buildModel({ ...config, decoderGate: true });
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  try {
    for (const layer of upgraded.layers) {
      const source = byName.get(layer.name);
      if (source && layer.weights.length) layer.setWeights(source.getWeights());
    }
    tf.tidy(() => {
      const gate = upgraded.getLayer(DECODER_GATE);
      gate.setWeights(gate.getWeights().map((w) => tf.zerosLike(w)));
      const fed = upgraded.getLayer(GATE_FEEDS);
      const [kernel, ...rest] = fed.getWeights();
      fed.setWeights([tf.mul(kernel, 2), ...rest]);
    });
  } catch (e) {
    upgraded.dispose();
    throw e;
  }
  return upgraded;
}

/**
 * The same trained network built for another input size. Every layer is convolutional or independent of
 * the image size (pooling by reduction, PixelShuffle, non-local attention over positions), so the weights
 * carry over as they are: a model trained at 192² can be fine-tuned at 256², where its stride-4 lesion map
 * resolves lesion borders more finely.
 */
export function atInputSize(model: tf.LayersModel, inputSize: number): tf.LayersModel {
  const resized = buildModel({ ...modelConfigOf(model), inputSize });
  // Same builder, so the same weights in the same order; setWeights checks every shape.
  resized.setWeights(model.getWeights());
  return resized;
}

/**
 * The same network for inference with every BatchNorm folded into the preceding convolution
 * (W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε)) and its ReLU fused into the conv kernel: one pass over
 * memory instead of three per conv block. Outputs are identical up to float rounding; layer names are kept.
 */
export function foldBatchNorm(trained: tf.LayersModel): tf.LayersModel {
  const folded = build(modelConfigOf(trained), true);
  const byName = new Map(trained.layers.map((l) => [l.name, l]));
  for (const layer of folded.layers) {
    const source = byName.get(layer.name);
    if (!source || !layer.weights.length) continue;
    const bn = layer.name.endsWith('/conv') ? byName.get(layer.name.replace(/\/conv$/, '/bn')) : undefined;
    if (!bn) {
      layer.setWeights(source.getWeights());
      continue;
    }
    const epsilon = (bn.getConfig() as { epsilon: number }).epsilon;
    const [gamma, beta, mean, variance] = bn.getWeights();
    const [kernel, bias] = tf.tidy(() => {
      const scale = tf.div(gamma, tf.sqrt(tf.add(variance, epsilon)));
      return [tf.mul(source.getWeights()[0], scale), tf.sub(beta, tf.mul(mean, scale))];
    });
    layer.setWeights([kernel, bias]);
    tf.dispose([kernel, bias]);
  }
  return folded;
}

export type AttentionKind = 'spatial' | 'nonlocal';
/** What an output of the inference model is: the lesion map, an attention module's map, or a stage's features. */
export type OutputKind = AttentionKind | 'lesion' | 'features';

/**
 * The features the appearance score (main/detector/appearance.ts) pools: the two deepest stages, after
 * their attention. Deep enough to describe what the image shows rather than its pixels, and, at stride 8
 * and 16, small enough to hand over with every detection.
 */
export const APPEARANCE_LAYERS = [stageOutputName(3), stageOutputName(4)] as const;

/** Every attention module whose map the engine shows: CBAM spatial gates and non-local affinities, shallow to deep. */
export function attentionLayerNames(model: tf.LayersModel): { name: string; kind: AttentionKind }[] {
  const out: { name: string; kind: AttentionKind }[] = [];
  for (const layer of model.layers) {
    if (layer instanceof SpatialAttentionMap) out.push({ name: layer.name, kind: 'spatial' });
    else if (layer instanceof NonLocalAttention) out.push({ name: layer.name, kind: 'nonlocal' });
  }
  return out;
}

/**
 * The CBAM spatial gate nearest the output, if the model has one (the decoder gate, or in models trained
 * before it, stage 4's): the map training supervises with the lesion mask and the pointing game scores.
 */
export function lastSpatialGate(model: tf.LayersModel): string | undefined {
  return attentionLayerNames(model)
    .filter((a) => a.kind === 'spatial')
    .pop()?.name;
}

/** The variant a built or loaded model is, read from its attention layers. */
export function inferVariant(model: tf.LayersModel): Variant {
  const names = model.layers.map((l) => l.getClassName());
  if (names.includes('NonLocalAttention')) return 'nonlocal';
  if (names.includes('SpatialAttentionMap')) return 'cbam';
  if (names.includes('SqueezeExcite')) return 'se';
  return 'baseline';
}

/**
 * The inference model: the trained model's weights, with outputs
 *   [0] `lesion` [N, S/4, S/4, 1], then one per attention module, in `attentionLayerNames` order:
 *   spatial: [N, h, w, 1] at that gate's resolution (its stage's, or stride 8 for the decoder gate); nonlocal: the affinity matrix [N, hw, hw] over
 *   stage-4 positions (row i = where query position i looks);
 *   then the `APPEARANCE_LAYERS` features [N, h, w, C] the appearance score pools.
 */
export function buildInferenceModel(trained: tf.LayersModel): { model: tf.LayersModel; outputs: { name: string; kind: OutputKind }[] } {
  const attention = attentionLayerNames(trained);
  const lesion = trained.getLayer(LESION_OUTPUT).output as tf.SymbolicTensor;
  const maps = attention.map((a) => trained.getLayer(a.name).output as tf.SymbolicTensor);
  // A network not built here (a test's, an import) may lack the stages: it runs without the appearance score.
  const featureLayers = APPEARANCE_LAYERS.filter((name) => trained.layers.some((l) => l.name === name));
  const features = featureLayers.map((name) => trained.getLayer(name).output as tf.SymbolicTensor);
  const model = tf.model({ inputs: trained.inputs, outputs: [lesion, ...maps, ...features], name: `${trained.name}_inference` });
  return { model, outputs: [{ name: LESION_OUTPUT, kind: 'lesion' }, ...attention, ...featureLayers.map((name) => ({ name, kind: 'features' as const }))] };
}

type Shape = (number | null)[];

/**
 * Floating-point operations of one forward pass for one image, counted analytically from the layer shapes
 * (a multiply-add counts 2). Elementwise work is counted for BN, activations and attention gating.
 */
export function modelFlops(model: tf.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const inShape = layer.inboundNodes[0]?.inputTensors?.[0]?.shape as Shape | undefined;
    const outShape = layer.outputShape as Shape | Shape[];
    if (!inShape) continue;
    const out = (Array.isArray(outShape[0]) ? outShape[0] : outShape) as number[];
    const cls = layer.getClassName();
    if (cls === 'Conv2D') {
      const cfg = layer.getConfig() as { kernelSize: number[] | number; useBias: boolean };
      const k = Array.isArray(cfg.kernelSize) ? cfg.kernelSize[0] * cfg.kernelSize[1] : cfg.kernelSize * cfg.kernelSize;
      const cin = inShape[3] as number;
      const [, h, w, cout] = out;
      flops += 2 * h * w * cout * k * cin + (cfg.useBias ? h * w * cout : 0);
    } else if (cls === 'BatchNormalization' || cls === 'Add') {
      flops += 2 * out[1] * out[2] * out[3];
    } else if (cls === 'ReLU') {
      flops += out[1] * out[2] * out[3];
    } else if (cls === 'Activation' && (layer.getConfig() as { activation: string }).activation === 'sigmoid') {
      flops += 4 * out[1] * out[2] * out[3];
    } else if ('flops' in layer && typeof (layer as { flops?: unknown }).flops === 'function') {
      flops += (layer as unknown as { flops(s: Shape): number }).flops(inShape);
    }
  }
  return flops;
}
