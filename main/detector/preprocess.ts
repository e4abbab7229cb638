/**
 * Image → model input, shared by inference and training so both see identical pixels:
 * keep the aspect ratio, scale the long side to the model's input size with an antialiased (triangle)
 * filter, put the image at the top-left of the square and pad the rest with zeros, map bytes to [0, 1].
 * Plain TypeScript (no tensors): it runs in workers and in the training data pipeline alike.
 */

/** 8-bit RGB pixels, row-major, interleaved (what imaging's `toRGB8` returns). */
export interface RGBImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Where the image sits inside the square model input. */
export interface Letterbox {
  /** Model pixels per image pixel. */
  scale: number;
  /** The image's extent inside the model input, in model pixels (from the top-left corner). */
  width: number;
  height: number;
  size: number;
}

export function letterboxGeometry(width: number, height: number, size: number): Letterbox {
  if (!(width > 0 && height > 0)) throw new Error(`image has no pixels (${width}×${height})`);
  const scale = size / Math.max(width, height);
  return { scale, width: Math.max(1, Math.min(size, Math.round(width * scale))), height: Math.max(1, Math.min(size, Math.round(height * scale))), size };
}

/** For each output index along one axis: the first input index and the normalised filter weights. */
function axisWeights(inLen: number, outLen: number): { start: Int32Array; count: Int32Array; weights: Float32Array; taps: number } {
  const ratio = inLen / outLen;
  const support = Math.max(1, ratio); // widen the triangle when shrinking: that is the antialiasing
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outLen);
  const count = new Int32Array(outLen);
  const weights = new Float32Array(outLen * taps);
  for (let o = 0; o < outLen; o++) {
    const centre = (o + 0.5) * ratio;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inLen, Math.ceil(centre + support));
    let sum = 0;
    let n = 0;
    for (let i = lo; i < hi && n < taps; i++, n++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      weights[o * taps + n] = w;
      sum += w;
    }
    if (sum === 0) {
      weights[o * taps] = 1;
      n = Math.max(n, 1);
      sum = 1;
    }
    for (let j = 0; j < n; j++) weights[o * taps + j] /= sum;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, taps };
}

/** Resize interleaved `channels`-channel float or byte pixels to outW×outH (separable triangle filter). */
export function resize(src: ArrayLike<number>, width: number, height: number, channels: number, outW: number, outH: number): Float32Array {
  const ax = axisWeights(width, outW);
  const ay = axisWeights(height, outH);
  const tmp = new Float32Array(outW * height * channels);
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let o = 0; o < outW; o++) {
      const s = ax.start[o];
      const n = ax.count[o];
      const base = o * ax.taps;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += ax.weights[base + j] * src[row + (s + j) * channels + c];
        tmp[(y * outW + o) * channels + c] = acc;
      }
    }
  }
  const out = new Float32Array(outW * outH * channels);
  for (let o = 0; o < outH; o++) {
    const s = ay.start[o];
    const n = ay.count[o];
    const base = o * ay.taps;
    for (let x = 0; x < outW * channels; x++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += ay.weights[base + j] * tmp[(s + j) * outW * channels + x];
      out[o * outW * channels + x] = acc;
    }
  }
  return out;
}

const axes = new Map<string, ReturnType<typeof axisWeights>>();
function cachedAxis(inLen: number, outLen: number): ReturnType<typeof axisWeights> {
  const key = `${inLen}>${outLen}`;
  let a = axes.get(key);
  if (!a) {
    if (axes.size > 64) axes.clear();
    a = axisWeights(inLen, outLen);
    axes.set(key, a);
  }
  return a;
}

/**
 * The model input for one image: [size, size, 3] floats in [0, 1], image top-left, zero padding.
 * Bit for bit `resize(image.data, …, 3, box.width, box.height)` divided by 255 and padded (the unit test
 * test/unit/runtime-letterbox.test.ts checks every value), but about 1.6× faster, which matters because
 * it costs about as much CPU as the network itself at 256²: the horizontal pass does the three channels
 * in one sweep, the vertical pass accumulates whole rows in float64 in the same tap order, and the /255
 * is fused into it.
 */
export function letterbox(image: RGBImage, size: number): { input: Float32Array; box: Letterbox } {
  const { width, height, data: src } = image;
  if (src.length !== width * height * 3) throw new Error(`RGB image ${width}×${height} needs ${width * height * 3} bytes, got ${src.length}`);
  const box = letterboxGeometry(width, height, size);
  const outW = box.width;
  const outH = box.height;
  const ax = cachedAxis(width, outW);
  const ay = cachedAxis(height, outH);
  const rowLen = outW * 3;
  const tmp = new Float32Array(rowLen * height);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    const trow = y * rowLen;
    for (let o = 0; o < outW; o++) {
      const s = ax.start[o];
      const n = ax.count[o];
      const base = o * ax.taps;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let j = 0; j < n; j++) {
        const w = ax.weights[base + j];
        const p = row + (s + j) * 3;
        a0 += w * src[p];
        a1 += w * src[p + 1];
        a2 += w * src[p + 2];
      }
      const t = trow + o * 3;
      tmp[t] = a0;
      tmp[t + 1] = a1;
      tmp[t + 2] = a2;
    }
  }
  const input = new Float32Array(size * size * 3);
  const acc = new Float64Array(rowLen);
  for (let o = 0; o < outH; o++) {
    const s = ay.start[o];
    const n = ay.count[o];
    const base = o * ay.taps;
    acc.fill(0);
    for (let j = 0; j < n; j++) {
      const w = ay.weights[base + j];
      const t = (s + j) * rowLen;
      for (let x = 0; x < rowLen; x++) acc[x] += w * tmp[t + x];
    }
    const dst = o * size * 3;
    // resize() stores the resized value as float32 before it is divided: round the same way.
    for (let x = 0; x < rowLen; x++) input[dst + x] = Math.fround(acc[x]) / 255;
  }
  return { input, box };
}
