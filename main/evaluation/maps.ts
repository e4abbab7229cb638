/** Map helpers shared by validation during training and `studio evaluate`. */
import { bilinearAt, cropMap, imageCells, lesionCandidates, MIN_FINDING_CELLS } from '../detector/postprocess.ts';
import type { Letterbox } from '../detector/preprocess.ts';
import type { Prediction } from './metrics.ts';
import type { Map2D } from '../../preload/contract.ts';

/** Bilinear upsampling (half-pixel centres, like tf.image.resizeBilinear without align-corners). */
export function upsample(map: ArrayLike<number>, w: number, h: number, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const sx = w / outW;
  const sy = h / outH;
  for (let y = 0; y < outH; y++) {
    const fy = (y + 0.5) * sy - 0.5;
    for (let x = 0; x < outW; x++) out[y * outW + x] = bilinearAt(map, w, h, (x + 0.5) * sx - 0.5, fy);
  }
  return out;
}

/**
 * Candidate lesions from a probability map, by the detector's own rule (`lesionCandidates`: the findings
 * the viewer draws), boxes scaled by `factor` into the caller's pixel space. Too low a threshold merges
 * neighbouring blobs into boxes that hit nothing (measured: sens@1FP 0.55 at 0.25 vs 0.82 at 0.5 on a
 * BUSI validation split), so models calibrate it on validation data (card.candidateThreshold). A lone
 * cell is dropped, as the detector drops it from the findings it shows: the metrics count what a reader sees.
 */
export function predictionsFromMap(prob: ArrayLike<number>, w: number, h: number, factor: number, threshold = 0.5, minCells = MIN_FINDING_CELLS): Prediction[] {
  return lesionCandidates(prob, w, h, threshold, minCells).map((c) => ({ box: [c.box[0] * factor, c.box[1] * factor, c.box[2] * factor, c.box[3] * factor], score: c.score }));
}

/**
 * The lesion map's stride, detector/model.ts OUTPUT_STRIDE: written out so that scoring maps does not load
 * TensorFlow.js (model.ts does) into every script and test that only counts candidates.
 */
const STRIDE = 4;

/**
 * A letterboxed image's S/4 lesion map over the image alone (no padding): the heatmap the viewer shows,
 * whose peak is the detector's "lesion present" score (postprocess.ts lesionScore).
 */
export function imageLesionMap(prob: ArrayLike<number>, side: number, box: Pick<Letterbox, 'width' | 'height'>): Map2D {
  const cells = imageCells(box, STRIDE);
  return cropMap(prob, side, cells.cols, cells.rows);
}

/**
 * The candidate lesions of a letterboxed image's S/4 lesion map at each threshold, as the viewer cuts its
 * findings: from the map over the image alone (none in the padding), boxes in letterboxed pixels. The map
 * is cropped once for all thresholds (calibration asks for a dozen).
 */
export function imageCandidatesAt(prob: ArrayLike<number>, side: number, box: Pick<Letterbox, 'width' | 'height'>, thresholds: readonly number[]): Prediction[][] {
  return shownCandidatesAt(imageLesionMap(prob, side, box), thresholds);
}

/** `imageCandidatesAt` of a map already cropped to the image (`imageLesionMap`), for a caller that also reads its peak. */
export function shownCandidatesAt(shown: Map2D, thresholds: readonly number[]): Prediction[][] {
  return thresholds.map((t) => predictionsFromMap(shown.data, shown.width, shown.height, STRIDE, t));
}

/** `imageCandidatesAt` at one threshold. */
export function imageCandidates(prob: ArrayLike<number>, side: number, box: Pick<Letterbox, 'width' | 'height'>, threshold: number): Prediction[] {
  return imageCandidatesAt(prob, side, box, [threshold])[0];
}
