/**
 * The TF.js backend of the detector: a trained tfjs model behind `DetectorBackend.forward`, plus Grad-CAM,
 * which needs gradients and so exists only here. Every tensor a call makes is disposed before it returns.
 */
import * as tf from '@tensorflow/tfjs';
import { StudioError, type Map2D, type Variant } from '../../preload/contract.ts';
import { checkCard, checkInputShape, loadModel } from './io.ts';
import { GRADCAM_LAYER, LESION_OUTPUT, OUTPUT_STRIDE, attentionLayerNames, buildInferenceModel, foldBatchNorm, inferVariant, type AttentionKind } from './model.ts';
import { cropMap, imageCells } from './postprocess.ts';
import { gradCam } from './gradcam.ts';
import { letterbox, type RGBImage } from './preprocess.ts';
import type { BatchOutput, DetectorBackend, OutputSpec } from './pipeline.ts';

export type { DetectOptions, RawDetection } from './pipeline.ts';

export interface TfjsDetectorOptions {
  /**
   * Fold BatchNorm into the convolutions (default): what the viewer runs, and cheaper. A model still being
   * trained is run unfolded, as folding copies its weights.
   */
  fold?: boolean;
  /** 'all' (default): the lesion map and every attention map; 'lesion': the lesion map only. */
  outputs?: 'all' | 'lesion';
  /** Whether dispose() releases the trained model's weights (default true; false for a model the trainer owns). */
  owns?: boolean;
}

export class TfjsDetector implements DetectorBackend {
  readonly runtime = 'tfjs' as const;
  readonly inputSize: number;
  readonly variant: Variant;
  readonly outputs: readonly OutputSpec[];
  /** The network inference and Grad-CAM run: the trained one, with BatchNorm folded unless asked not to. */
  private readonly network: tf.LayersModel;
  private readonly inference: tf.LayersModel;
  private readonly owns: boolean;

  constructor(
    readonly model: tf.LayersModel,
    options: TfjsDetectorOptions = {},
  ) {
    this.inputSize = checkInputShape(model.inputs[0].shape, model.name);
    this.variant = inferVariant(model);
    this.owns = options.owns ?? true;
    this.network = options.fold === false ? model : foldBatchNorm(model);
    try {
      if (options.outputs === 'lesion') {
        this.inference = this.network.outputs.length === 1 ? this.network : tf.model({ inputs: this.network.inputs, outputs: this.network.getLayer(LESION_OUTPUT).output as tf.SymbolicTensor });
        this.outputs = [{ name: LESION_OUTPUT, kind: 'lesion' }];
      } else {
        const built = buildInferenceModel(this.network);
        this.inference = built.model;
        this.outputs = built.outputs;
      }
    } catch (err) {
      // A model without the outputs a detector needs: the folded copy made above is freed, not leaked.
      if (this.network !== model) this.network.dispose();
      throw err;
    }
  }

  static async load(dir: string): Promise<TfjsDetector> {
    checkCard(dir);
    const model = await loadModel(dir);
    try {
      return new TfjsDetector(model);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  attentionLayers(): { name: string; kind: AttentionKind }[] {
    return attentionLayerNames(this.model);
  }

  async forward(batch: Float32Array, n: number): Promise<BatchOutput[]> {
    const S = this.inputSize;
    const x = tf.tensor4d(batch, [n, S, S, 3]);
    let outs: tf.Tensor[] = [];
    try {
      outs = [this.inference.predict(x)].flat() as tf.Tensor[];
      // Read outside tf.tidy: tidy walks a returned typed array, which is slow for large outputs (FACTS.md).
      const data = await Promise.all(outs.map((o) => o.data() as Promise<Float32Array>));
      return data.map((d, i) => ({ data: d, dims: outs[i].shape }));
    } finally {
      tf.dispose([x, ...outs]);
    }
  }

  /** Grad-CAM of `layer` (default: the deepest stage) as a map over the image's full extent. */
  gradcam(image: RGBImage, layer = GRADCAM_LAYER): { layer: string; map: Map2D } {
    const found = this.model.layers.find((l) => l.name === layer);
    const shape = found?.outputShape as (number | null)[] | undefined;
    if (!found || !shape || shape.length !== 4 || Array.isArray(shape[0])) {
      throw new StudioError('INVALID_PAYLOAD', `Grad-CAM needs a feature layer of this model (for example ${GRADCAM_LAYER}); '${layer}' is not one`, layer);
    }
    const S = this.inputSize;
    const { input, box } = letterbox(image, S);
    const x = tf.tensor4d(input, [1, S, S, 3]);
    const cells = imageCells(box, OUTPUT_STRIDE);
    const maskData = new Float32Array((S / OUTPUT_STRIDE) ** 2);
    for (let y = 0; y < cells.rows; y++) for (let c = 0; c < cells.cols; c++) maskData[y * (S / OUTPUT_STRIDE) + c] = 1;
    const mask = tf.tensor4d(maskData, [1, S / OUTPUT_STRIDE, S / OUTPUT_STRIDE, 1]);
    try {
      const cam = gradCam(this.network, x, layer, mask);
      const stride = S / cam.cols;
      const camCells = imageCells(box, stride);
      const map = cropMap(cam.data, cam.cols, camCells.cols, camCells.rows);
      let peak = 0;
      for (const v of map.data) peak = Math.max(peak, v);
      if (peak > 0) for (let i = 0; i < map.data.length; i++) map.data[i] /= peak;
      return { layer, map };
    } finally {
      tf.dispose([x, mask]);
    }
  }

  dispose(): void {
    // The inference model shares the network's layers, which share the trained model's weights unless folded.
    if (this.network !== this.model) this.network.dispose();
    if (this.owns) this.model.dispose();
  }
}
