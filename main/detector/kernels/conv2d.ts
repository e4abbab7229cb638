/**
 * Convolution gradients for the wasm backend, built on the one fast thing wasm has: XNNPACK's matmul.
 *
 * Both gradients are rewritten as work XNNPACK does fast: forward convolutions over transposed or flipped
 * operands where that is exact, and otherwise one matmul plus col2im (a plain JavaScript loop over the
 * wasm heap). Matmuls use the operand layout wasm runs fast ([rows, inner] x [inner, cols], no transposeA:
 * wasm's transposed path is ~10x slower). col2im work is chunked over the batch to bound its buffer.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** The part of tfjs-backend-wasm's BackendWasm these kernels touch. */
interface WasmBackendLike {
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Upper bound on one chunk's column buffer, in floats (32 MB). */
const CHUNK_FLOATS = 8 * 1024 * 1024;

export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: NamedAttrMap): ConvGeometry {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (dataFormat === 'NCHW') throw new Error('wasm conv gradients: only NHWC (channels last) is supported');
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

function imagesPerChunk(g: ConvGeometry): number {
  const perImage = g.outH * g.outW * g.kh * g.kw * g.inC;
  return Math.max(1, Math.min(g.batch, Math.floor(CHUNK_FLOATS / Math.max(1, perImage))));
}

/** The adjoint of im2col: dx[n, iy, ix, c] += cols[m, tap*inC + c] for every tap that read it. */
export function col2im(cols: Float32Array, dx: Float32Array, g: ConvGeometry, n0: number, n1: number): void {
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, padTop, padLeft } = g;
  const K = kh * kw * inC;
  let row = 0;
  for (let n = n0; n < n1; n++) {
    const xImage = n * inH * inW * inC;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++, row += K) {
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i - padTop;
          if (iy < 0 || iy >= inH) continue;
          const xRow = xImage + iy * inW * inC;
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j - padLeft;
            if (ix < 0 || ix >= inW) continue;
            const dst = xRow + ix * inC;
            const src = row + (i * kw + j) * inC;
            for (let c = 0; c < inC; c++) dx[dst + c] += cols[src + c];
          }
        }
      }
    }
  }
}

function heap(backend: unknown, t: tf.Tensor): Float32Array {
  return (backend as WasmBackendLike).typedArrayFromHeap(t) as Float32Array;
}



/**
 * dW[i, j, ci, co] = Σ_{n,oy,ox} xpad[n, oy*s+i, ox*s+j, ci] · dy[n, oy, ox, co] is itself a convolution:
 * batch = ci, channels = n, over xpad transposed to [ci, H, W, n], with dy transposed to [oy, ox, n, co] as
 * the filter, dilated by the stride. That puts the whole reduction on XNNPACK's convolution (measured
 * 8x128²x32→32: ~120 ms, against ~200 ms for im2col + matmul and no wasm kernel at all before).
 */
export function conv2DBackpropFilterWasm({ inputs, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): tf.Tensor {
  const x = inputs.x as tf.Tensor4D;
  const dy = inputs.dy as tf.Tensor4D;
  const filterShape = (attrs as { filterShape: number[] }).filterShape;
  const g = geometry(x.shape, filterShape, attrs ?? {});
  const padBottom = Math.max(0, (g.outH - 1) * g.sh + g.kh - g.inH - g.padTop);
  const padRight = Math.max(0, (g.outW - 1) * g.sw + g.kw - g.inW - g.padLeft);
  return tf.tidy(() => {
    const padded = g.padTop || g.padLeft || padBottom || padRight ? tf.pad(x, [[0, 0], [g.padTop, padBottom], [g.padLeft, padRight], [0, 0]]) : x;
    const images = tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D;
    const kernel = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    let dw = tf.conv2d(images, kernel, 1, 'valid', 'NHWC', [g.sh, g.sw]);
    // 'valid' convs can leave input rows no output reads: the result is then taller than the filter.
    if (dw.shape[1] !== g.kh || dw.shape[2] !== g.kw) dw = tf.slice(dw, [0, 0, 0, 0], [g.inC, g.kh, g.kw, g.outC]);
    return tf.transpose(dw, [1, 2, 0, 3]);
  });
}

/**
 * dx for stride 1 is a forward convolution of dy with the spatially flipped, in/out-swapped filter, which
 * runs on XNNPACK as fast as the forward pass; larger strides use dy · Wᵀ then col2im, which does exactly
 * the forward flops (a zero-dilated dy would waste s² of them).
 */
export function conv2DBackpropInputWasm({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): tf.Tensor {
  const dy = inputs.dy as tf.Tensor4D;
  const filter = inputs.filter as tf.Tensor4D;
  const inputShape = (attrs as { inputShape: number[] }).inputShape;
  const g = geometry(inputShape, filter.shape, attrs ?? {});
  if (g.sh === 1 && g.sw === 1) {
    const top = g.kh - 1 - g.padTop;
    const left = g.kw - 1 - g.padLeft;
    const bottom = g.inH - g.outH + g.padTop;
    const right = g.inW - g.outW + g.padLeft;
    if (top >= 0 && left >= 0 && bottom >= 0 && right >= 0) {
      return tf.tidy(() => {
        const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
        const padded = top || left || bottom || right ? tf.pad(dy, [[0, 0], [top, bottom], [left, right], [0, 0]]) : dy;
        return tf.conv2d(padded as tf.Tensor4D, flipped, 1, 'valid');
      });
    }
  }
  return conv2DBackpropInputCol2im(dy, filter, g, inputShape, backend);
}

function conv2DBackpropInputCol2im(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry, inputShape: number[], backend: unknown): tf.Tensor {
  const K = g.kh * g.kw * g.inC;
  const chunk = imagesPerChunk(g);
  const perImage = g.outH * g.outW;
  const wT = tf.tidy(() => tf.transpose(tf.reshape(filter, [K, g.outC])));
  const dy2 = tf.reshape(dy, [g.batch * perImage, g.outC]);
  const dx = tf.zeros(inputShape);
  for (let n0 = 0; n0 < g.batch; n0 += chunk) {
    const n1 = Math.min(g.batch, n0 + chunk);
    const rows = (n1 - n0) * perImage;
    const cols = tf.tidy(() => tf.matMul(n0 === 0 && n1 === g.batch ? dy2 : tf.slice(dy2, [n0 * perImage, 0], [rows, g.outC]), wT));
    col2im(heap(backend, cols), heap(backend, dx), g, n0, n1);
    cols.dispose();
  }
  wT.dispose();
  dy2.dispose();
  return dx;
}
