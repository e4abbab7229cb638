/**
 * TF.js LayersModel (the studio's detectors, NHWC) → ONNX (opset 17).
 *
 * The graph runs in NCHW, the layout onnxruntime's CPU and CUDA convolution kernels are fastest in: the
 * NHWC input is transposed once at the start and each output is transposed back, so the ONNX model
 * takes and returns exactly what the TF.js inference model does, under the same names and order
 * (`lesion`, then every attention map, then the appearance features, as `buildInferenceModel` lists them).
 *
 * Folded at export: BatchNormalization into the preceding convolution's weights and bias, the non-local
 * 1/√d into the query projection and γ into the output projection. TF.js 'same' padding becomes explicit
 * pads (TF puts the odd pixel at the end). PixelShuffle is DepthToSpace in DCR mode: both read channel
 * k = (i·r + j)·C + c as output pixel (y·r + i, x·r + j), channel c.
 */
import * as tf from '@tensorflow/tfjs';
import { buildInferenceModel, type OutputKind } from '../../model.ts';
import { OnnxGraph, type Dims } from './graph.ts';

// 3: the appearance features (model.ts APPEARANCE_LAYERS) are outputs too.
export const EXPORTER_VERSION = '3';
const BATCH = 'batch';

export interface ExportedModel {
  bytes: Uint8Array;
  input: { name: string; shape: Dims };
  /** In the TF.js inference model's order. */
  outputs: { name: string; kind: OutputKind; shape: Dims }[];
}

type Shape = (number | null)[];
type Layer = tf.layers.Layer;

function weight(layer: Layer, key: string): { data: Float32Array; shape: number[] } {
  const v = layer.weights.find((w) => {
    const last = w.originalName.split('/').pop()!.replace(/_\d+$/, '');
    return last === key;
  });
  if (!v) throw new Error(`ONNX export: layer ${layer.name} has no weight '${key}' (has ${layer.weights.map((w) => w.originalName).join(', ')})`);
  return { data: v.read().dataSync() as Float32Array, shape: v.shape as number[] };
}

function outShape(layer: Layer): number[] {
  const s = layer.outputShape as Shape | Shape[];
  if (Array.isArray(s[0])) throw new Error(`ONNX export: layer ${layer.name} has several outputs`);
  return (s as Shape).map((d) => d ?? -1);
}

function inputLayers(layer: Layer): Layer[] {
  const node = layer.inboundNodes[0];
  return node ? (node.inboundLayers as Layer[]) : [];
}

/** TF's 'same' padding for one axis: out = ceil(in / s), the odd pixel goes after. */
function samePads(inLen: number, k: number, s: number, dilation: number): [number, number] {
  const eff = (k - 1) * dilation + 1;
  const out = Math.ceil(inLen / s);
  const total = Math.max(0, (out - 1) * s + eff - inLen);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** [kh, kw, cin, cout] → [cout, cin, kh, kw], each output channel scaled by `scale`. */
function convKernel(k: Float32Array, [kh, kw, cin, cout]: number[], scale?: Float32Array): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = k[((y * kw + x) * cin + i) * cout + o] * (scale ? scale[o] : 1);
  return out;
}

function transpose2d(m: Float32Array, rows: number, cols: number, scale = 1): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c] * scale;
  return out;
}

function scaled(a: Float32Array, s: number): Float32Array {
  return a.map((v) => v * s);
}

/** BatchNormalization in inference as y = x·scale + shift per channel. */
function bnAffine(bn: Layer): { scale: Float32Array; shift: Float32Array } {
  const cfg = bn.getConfig() as { epsilon: number; axis: number | number[]; center: boolean; scale: boolean };
  const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
  if (axis !== 3 && axis !== -1) throw new Error(`ONNX export: ${bn.name} normalises axis ${axis}; only the channel axis is supported`);
  const mean = weight(bn, 'moving_mean').data;
  const variance = weight(bn, 'moving_variance').data;
  const gamma = cfg.scale ? weight(bn, 'gamma').data : null;
  const beta = cfg.center ? weight(bn, 'beta').data : null;
  const c = mean.length;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    // float64 here and one rounding at the end keeps the folded weights within float32 of TF.js's math.
    const s = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + cfg.epsilon);
    scale[i] = s;
    shift[i] = (beta ? beta[i] : 0) - mean[i] * s;
  }
  return { scale, shift };
}

export function exportOnnx(trained: tf.LayersModel): ExportedModel {
  const { outputs: outputSpec } = buildInferenceModel(trained);
  const g = new OnnxGraph(trained.name);
  // Output names are the layer names; reserve them so no internal value takes one.
  for (const o of outputSpec) g.fresh(o.name);

  const consumers = new Map<string, number>();
  for (const layer of trained.layers) for (const src of inputLayers(layer)) consumers.set(src.name, (consumers.get(src.name) ?? 0) + 1);
  const isOutput = new Set(outputSpec.map((o) => o.name));
  const byInput = new Map<string, Layer[]>();
  for (const layer of trained.layers) for (const src of inputLayers(layer)) byInput.set(src.name, [...(byInput.get(src.name) ?? []), layer]);

  const values = new Map<string, string>(); // layer name → ONNX value (NCHW for 4-D tensors)
  const folded = new Set<string>();
  let input: ExportedModel['input'] | null = null;
  const val = (l: Layer) => {
    const v = values.get(l.name);
    if (!v) throw new Error(`ONNX export: ${l.name} used before it was produced`);
    return v;
  };
  let axesHW: string | null = null;
  const unsqueeze23 = () => (axesHW ??= g.ints('axes_hw', [2, 3]));

  const mlp = (layer: Layer, pooled: string, hint: string) => {
    const w1 = weight(layer, 'w1');
    const w2 = weight(layer, 'w2');
    const h = g.node('Gemm', [pooled, g.floats(`${layer.name}/w1`, w1.shape, w1.data), g.floats(`${layer.name}/b1`, [w1.shape[1]], weight(layer, 'b1').data)], `${hint}/fc1`);
    const r = g.node('Relu', [h], `${hint}/relu`);
    return g.node('Gemm', [r, g.floats(`${layer.name}/w2`, w2.shape, w2.data), g.floats(`${layer.name}/b2`, [w2.shape[1]], weight(layer, 'b2').data)], `${hint}/fc2`);
  };

  for (const layer of trained.layers) {
    if (folded.has(layer.name)) continue;
    const cls = layer.getClassName();
    const ins = inputLayers(layer);
    const name = layer.name;
    let out: string;
    switch (cls) {
      case 'InputLayer': {
        const shape = outShape(layer);
        if (shape.length !== 4 || shape[3] <= 0) throw new Error(`ONNX export: input ${name} must be [N, H, W, C] (got [${shape}])`);
        const dims: Dims = [BATCH, shape[1], shape[2], shape[3]];
        input = { name, shape: dims };
        out = g.node('Transpose', [g.input(name, dims)], `${name}/nchw`, { perm: [0, 3, 1, 2] });
        break;
      }
      case 'Conv2D': {
        const cfg = layer.getConfig() as { strides: number[]; padding: string; dilationRate: number | number[]; dataFormat: string; activation: string; useBias: boolean; kernelSize: number[] };
        if (cfg.dataFormat !== 'channelsLast') throw new Error(`ONNX export: ${name} is ${cfg.dataFormat}; only channelsLast is supported`);
        const kernel = weight(layer, 'kernel');
        const [kh, kw, , cout] = kernel.shape;
        const dil = Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate, cfg.dilationRate];
        const inS = outShape(ins[0]);
        const [pt, pb] = cfg.padding === 'same' ? samePads(inS[1], kh, cfg.strides[0], dil[0]) : [0, 0];
        const [pl, pr] = cfg.padding === 'same' ? samePads(inS[2], kw, cfg.strides[1], dil[1]) : [0, 0];
        if (cfg.padding !== 'same' && cfg.padding !== 'valid') throw new Error(`ONNX export: ${name} has padding '${cfg.padding}'`);
        let bias = cfg.useBias ? weight(layer, 'bias').data : new Float32Array(cout);
        let scale: Float32Array | undefined;
        // Fold a BatchNormalization that is this conv's only consumer (and the conv itself is linear).
        const next = byInput.get(name);
        let produced = name;
        if (cfg.activation === 'linear' && next?.length === 1 && consumers.get(name) === 1 && !isOutput.has(name) && next[0].getClassName() === 'BatchNormalization') {
          const bn = bnAffine(next[0]);
          scale = bn.scale;
          bias = bias.map((b, i) => b * bn.scale[i] + bn.shift[i]);
          folded.add(next[0].name);
          produced = next[0].name;
        }
        const w = g.floats(`${name}/W`, [cout, kernel.shape[2], kh, kw], convKernel(kernel.data, kernel.shape, scale));
        const b = g.floats(`${name}/B`, [cout], bias);
        out = g.node('Conv', [val(ins[0]), w, b], name, { kernel_shape: [kh, kw], strides: cfg.strides, pads: [pt, pl, pb, pr], dilations: dil });
        out = activation(g, out, cfg.activation, name);
        if (produced !== name) values.set(produced, out);
        break;
      }
      case 'BatchNormalization': {
        const { scale, shift } = bnAffine(layer);
        const c = scale.length;
        const m = g.node('Mul', [val(ins[0]), g.floats(`${name}/scale`, [1, c, 1, 1], scale)], `${name}/mul`);
        out = g.node('Add', [m, g.floats(`${name}/shift`, [1, c, 1, 1], shift)], name);
        break;
      }
      case 'ReLU': {
        const cfg = layer.getConfig() as { maxValue?: number | null };
        if (cfg.maxValue != null) throw new Error(`ONNX export: ${name} is a capped ReLU`);
        out = g.node('Relu', [val(ins[0])], name);
        break;
      }
      case 'Activation':
        out = activation(g, val(ins[0]), (layer.getConfig() as { activation: string }).activation, name);
        break;
      case 'Add':
        out = g.node(ins.length === 2 ? 'Add' : 'Sum', ins.map(val), name);
        break;
      case 'SqueezeExcite': {
        const x = val(ins[0]);
        const pooled = globalPool(g, 'GlobalAveragePool', x, `${name}/squeeze`);
        const s = g.node('Sigmoid', [mlp(layer, pooled, name)], `${name}/excite`);
        out = g.node('Mul', [x, g.node('Unsqueeze', [s, unsqueeze23()], `${name}/scale`)], name);
        break;
      }
      case 'ChannelGate': {
        const x = val(ins[0]);
        const avg = mlp(layer, globalPool(g, 'GlobalAveragePool', x, `${name}/avg`), `${name}/avg`);
        const max = mlp(layer, globalPool(g, 'GlobalMaxPool', x, `${name}/max`), `${name}/max`);
        const s = g.node('Sigmoid', [g.node('Add', [avg, max], `${name}/sum`)], `${name}/gate`);
        out = g.node('Mul', [x, g.node('Unsqueeze', [s, unsqueeze23()], `${name}/scale`)], name);
        break;
      }
      case 'SpatialAttentionMap': {
        const x = val(ins[0]);
        const kernel = weight(layer, 'kernel');
        const [kh, kw] = kernel.shape;
        const inS = outShape(ins[0]);
        const [pt, pb] = samePads(inS[1], kh, 1, 1);
        const [pl, pr] = samePads(inS[2], kw, 1, 1);
        // onnxruntime's ReduceMean/ReduceMax over axis 1 of NCHW are slow strided loops (a fifth of a 512²
        // run): the channel mean is a 1×1 convolution with weights 1/C, the channel max an elementwise Max
        // over the channel planes (about 10% faster overall, same values within float rounding).
        const fc = inS[3];
        const mean = g.node('Conv', [x, g.floats(`${name}/mean_W`, [1, fc, 1, 1], new Float32Array(fc).fill(1 / fc))], `${name}/mean`, { kernel_shape: [1, 1] });
        const max = g.node('Max', g.nodeMulti('Split', [x], `${name}/planes`, fc, { axis: 1 }), `${name}/max`);
        const pooled = g.node('Concat', [mean, max], `${name}/pooled`, { axis: 1 });
        const w = g.floats(`${name}/W`, [1, 2, kh, kw], convKernel(kernel.data, kernel.shape));
        const logits = g.node('Conv', [pooled, w, g.floats(`${name}/B`, [1], weight(layer, 'bias').data)], `${name}/conv`, { kernel_shape: [kh, kw], strides: [1, 1], pads: [pt, pl, pb, pr] });
        out = g.node('Sigmoid', [logits], `${name}/map`);
        break;
      }
      case 'ApplySpatialGate':
        out = g.node('Mul', [val(ins[0]), val(ins[1])], name);
        break;
      case 'NonLocalAttention': {
        const [, h, w, c] = outShape(ins[0]);
        const wq = weight(layer, 'wq');
        const d = wq.shape[1];
        const s = 1 / Math.sqrt(d);
        const flat = g.node('Reshape', [val(ins[0]), g.ints(`${name}/flat_shape`, [0, c, h * w])], `${name}/flat`); // [N, C, hw]
        const rows = g.node('Transpose', [flat], `${name}/rows`, { perm: [0, 2, 1] }); // [N, hw, C]
        const q = g.node('Add', [g.node('MatMul', [rows, g.floats(`${name}/wq`, [c, d], scaled(wq.data, s))], `${name}/q_mm`), g.floats(`${name}/bq`, [d], scaled(weight(layer, 'bq').data, s))], `${name}/q`);
        // kᵀ directly as Wₖᵀ · x: [d, C] × [N, C, hw] → [N, d, hw], no transpose of k needed.
        const kT = g.node('Add', [g.node('MatMul', [g.floats(`${name}/wkT`, [d, c], transpose2d(weight(layer, 'wk').data, c, d)), flat], `${name}/kT_mm`), g.floats(`${name}/bk`, [d, 1], weight(layer, 'bk').data)], `${name}/kT`);
        out = g.node('Softmax', [g.node('MatMul', [q, kT], `${name}/logits`)], `${name}/softmax`, { axis: -1 });
        break;
      }
      case 'NonLocalAggregate': {
        const [, h, w, c] = outShape(ins[0]);
        const x = val(ins[0]);
        const wv = weight(layer, 'wv');
        const d = wv.shape[1];
        const gamma = weight(layer, 'gamma').data[0];
        const flat = g.node('Reshape', [x, g.ints(`${name}/flat_shape`, [0, c, h * w])], `${name}/flat`);
        const rows = g.node('Transpose', [flat], `${name}/rows`, { perm: [0, 2, 1] });
        const v = g.node('Add', [g.node('MatMul', [rows, g.floats(`${name}/wv`, [c, d], wv.data)], `${name}/v_mm`), g.floats(`${name}/bv`, [d], weight(layer, 'bv').data)], `${name}/v`);
        const z = g.node('MatMul', [val(ins[1]), v], `${name}/z`); // [N, hw, d]
        const o = g.node('Add', [g.node('MatMul', [z, g.floats(`${name}/wo`, [d, c], scaled(weight(layer, 'wo').data, gamma))], `${name}/o_mm`), g.floats(`${name}/bo`, [c], scaled(weight(layer, 'bo').data, gamma))], `${name}/o`);
        const back = g.node('Reshape', [g.node('Transpose', [o], `${name}/cols`, { perm: [0, 2, 1] }), g.ints(`${name}/nchw_shape`, [0, c, h, w])], `${name}/nchw`);
        out = g.node('Add', [x, back], name);
        break;
      }
      case 'PixelShuffle': {
        const r = (layer.getConfig() as { factor: number }).factor;
        out = g.node('DepthToSpace', [val(ins[0])], name, { blocksize: r, mode: 'DCR' });
        break;
      }
      default:
        throw new Error(`ONNX export: no mapping for layer ${name} of class ${cls}`);
    }
    values.set(name, out);
  }
  if (!input) throw new Error('ONNX export: the model has no input layer');

  const outputs: ExportedModel['outputs'] = [];
  for (const o of outputSpec) {
    const shape = outShape(trained.getLayer(o.name));
    const dims: Dims = [BATCH, ...shape.slice(1)];
    if (shape.length === 4) g.node('Transpose', [val(trained.getLayer(o.name))], o.name, { perm: [0, 2, 3, 1] }, o.name);
    else g.node('Identity', [val(trained.getLayer(o.name))], o.name, {}, o.name);
    g.output(o.name, dims);
    outputs.push({ name: o.name, kind: o.kind, shape: dims });
  }
  const bytes = g.encode({ producer: 'attention-studio', version: EXPORTER_VERSION, doc: `exported from the TF.js model ${trained.name}` });
  return { bytes, input, outputs };
}

/**
 * Mean/max over the spatial axes as [N, C]: GlobalAverage/MaxPool rather than ReduceMean/Max, because
 * onnxruntime runs the global pools in its blocked NCHWc layout and so avoids reordering the whole
 * feature map back to NCHW before each channel gate.
 */
function globalPool(g: OnnxGraph, op: 'GlobalAveragePool' | 'GlobalMaxPool', x: string, hint: string): string {
  return g.node('Flatten', [g.node(op, [x], `${hint}/pool`)], hint, { axis: 1 });
}

function activation(g: OnnxGraph, x: string, act: string, name: string): string {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return g.node('Relu', [x], name);
    case 'sigmoid':
      return g.node('Sigmoid', [x], name);
    case 'tanh':
      return g.node('Tanh', [x], name);
    default:
      throw new Error(`ONNX export: activation '${act}' of ${name} has no mapping`);
  }
}
