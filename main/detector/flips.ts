/**
 * Test-time flip averaging: run the network on the input and its mirror images as one batch, map each
 * output back to the input's orientation, and average. Training augments with exactly these flips (of
 * the whole letterboxed square, padding included), so every mirrored input is one the network has
 * learnt from; averaging removes the part of each map that depends on orientation, which for a lesion
 * is noise. Plain arrays in and out, so TF.js and onnxruntime share it.
 *
 * `h` adds the left–right mirror (2 passes), `hv` all four of {identity, left–right, up–down, both}.
 */
import { FLIP_SETS, type FlipSet } from '../../preload/contract.ts';
import type { OutputKind } from './model.ts';

export { FLIP_SETS, type FlipSet };

interface Mirror {
  rows: boolean;
  cols: boolean;
}

const PASSES: Record<FlipSet, readonly Mirror[]> = {
  none: [{ rows: false, cols: false }],
  h: [
    { rows: false, cols: false },
    { rows: false, cols: true },
  ],
  hv: [
    { rows: false, cols: false },
    { rows: false, cols: true },
    { rows: true, cols: false },
    { rows: true, cols: true },
  ],
};

export function isFlipSet(v: unknown): v is FlipSet {
  return typeof v === 'string' && (FLIP_SETS as readonly string[]).includes(v);
}

/** How many images one prediction runs: the batch `mirroredBatch` builds (the contract's FLIP_VIEWS says the same). */
export function passes(flips: FlipSet): number {
  return PASSES[flips].length;
}

/** Row-major index of (r, c) of an h×w grid in the mirrored grid (a mirror is its own inverse). */
function mirroredIndex(r: number, c: number, h: number, w: number, m: Mirror): number {
  return (m.rows ? h - 1 - r : r) * w + (m.cols ? w - 1 - c : c);
}

/** An NHWC image [h, w, channels] and its mirror images, stacked: [passes, h, w, channels]. */
export function mirroredBatch(image: Float32Array | Uint8Array, h: number, w: number, channels: number, flips: FlipSet): Float32Array {
  const all = PASSES[flips];
  if (all.length === 1) return image instanceof Float32Array ? image : Float32Array.from(image);
  const n = h * w * channels;
  const out = new Float32Array(all.length * n);
  all.forEach((m, p) => {
    const base = p * n;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const src = mirroredIndex(r, c, h, w, m) * channels;
        const dst = base + (r * w + c) * channels;
        for (let k = 0; k < channels; k++) out[dst + k] = image[src + k];
      }
    }
  });
  return out;
}

/**
 * A [passes, h, w, c] output of the mirrored batch with each pass mapped back to the input's orientation,
 * kept apart (the appearance score pools each view itself). The views come in PASSES order, and each flip
 * set's passes begin with those of the smaller sets: an `hv` batch's first view is `none`'s, its first two
 * `h`'s.
 */
export function unmirroredViews(data: Float32Array, dims: readonly number[], flips: FlipSet): Float32Array {
  const all = PASSES[flips];
  if (dims[0] !== all.length) throw new Error(`expected a batch of ${all.length} mirrored predictions, got ${dims[0]}`);
  if (all.length === 1) return data;
  const n = data.length / all.length;
  const out = new Float32Array(data.length);
  const [, h, w, channels = 1] = dims;
  all.forEach((m, p) => {
    const base = p * n;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const src = base + mirroredIndex(r, c, h, w, m) * channels;
        const dst = base + (r * w + c) * channels;
        for (let k = 0; k < channels; k++) out[dst + k] = data[src + k];
      }
    }
  });
  return out;
}

/**
 * One output of the mirrored batch, mapped back and averaged: `dims` is its shape with the batch first.
 * A map (or a stage's features) is [passes, h, w, c]; a non-local affinity [passes, hw, hw] has grid positions on both of its
 * axes (the input is square, so the grid is side×side), and both are mapped back.
 */
export function averageMirrored(data: Float32Array, dims: readonly number[], kind: OutputKind, flips: FlipSet): Float32Array {
  const all = PASSES[flips];
  if (dims[0] !== all.length) throw new Error(`expected a batch of ${all.length} mirrored predictions, got ${dims[0]}`);
  if (all.length === 1) return data;
  const n = data.length / all.length;
  const out = new Float32Array(n);
  if (kind === 'nonlocal') {
    const positions = dims[1];
    const side = Math.round(Math.sqrt(positions));
    if (side * side !== positions || dims[2] !== positions) throw new Error(`a non-local affinity ${dims.join('×')} is not over a square grid`);
    all.forEach((m, p) => {
      const perm = new Int32Array(positions);
      for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) perm[r * side + c] = mirroredIndex(r, c, side, side, m);
      const base = p * n;
      for (let i = 0; i < positions; i++) {
        const row = base + perm[i] * positions;
        for (let j = 0; j < positions; j++) out[i * positions + j] += data[row + perm[j]];
      }
    });
  } else {
    const views = unmirroredViews(data, dims, flips);
    for (let p = 0; p < all.length; p++) for (let i = 0; i < n; i++) out[i] += views[p * n + i];
  }
  for (let i = 0; i < n; i++) out[i] /= all.length;
  return out;
}
