/**
 * Depthwise convolution gradients for wasm (absent there). Depthwise work is small (no channel mixing),
 * so a direct loop over the wasm heap is fast enough and has no temporaries.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

interface WasmBackendLike {
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function info(xShape: number[], filterShape: number[], attrs: NamedAttrMap): tf.backend_util.Conv2DInfo {
  const { strides, dilations, pad, dimRoundingMode } = attrs as unknown as {
    strides: [number, number] | number;
    dilations: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    true,
  );
}

/** Calls `visit(xIndex, dyIndex, wIndex)` for every multiply of the forward depthwise conv. */
function forEachTap(c: tf.backend_util.Conv2DInfo, visit: (xi: number, dyi: number, wi: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = c;
  const mult = outChannels / inChannels;
  const { top, left } = c.padInfo;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyBase = ((n * outHeight + oy) * outWidth + ox) * outChannels;
        for (let i = 0; i < filterHeight; i++) {
          const iy = oy * strideHeight + i * dilationHeight - top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const ix = ox * strideWidth + j * dilationWidth - left;
            if (ix < 0 || ix >= inWidth) continue;
            const xBase = ((n * inHeight + iy) * inWidth + ix) * inChannels;
            const wBase = (i * filterWidth + j) * outChannels;
            for (let ch = 0; ch < inChannels; ch++) {
              for (let q = 0; q < mult; q++) visit(xBase + ch, dyBase + ch * mult + q, wBase + ch * mult + q);
            }
          }
        }
      }
    }
  }
}

export function depthwiseBackpropFilterWasm({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): tf.Tensor {
  const x = inputs.x as tf.Tensor4D;
  const dy = inputs.dy as tf.Tensor4D;
  const filterShape = (attrs as { filterShape: number[] }).filterShape;
  const c = info(x.shape, filterShape, attrs ?? {});
  const dw = tf.zeros(filterShape);
  const b = backend as WasmBackendLike;
  const xv = b.typedArrayFromHeap(x) as Float32Array;
  const dyv = b.typedArrayFromHeap(dy) as Float32Array;
  const out = b.typedArrayFromHeap(dw) as Float32Array;
  forEachTap(c, (xi, dyi, wi) => {
    out[wi] += xv[xi] * dyv[dyi];
  });
  return dw;
}

export function depthwiseBackpropInputWasm({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): tf.Tensor {
  const dy = inputs.dy as tf.Tensor4D;
  const filter = inputs.filter as tf.Tensor4D;
  const inputShape = (attrs as { inputShape: number[] }).inputShape;
  const c = info(inputShape, filter.shape, attrs ?? {});
  const dx = tf.zeros(inputShape);
  const b = backend as WasmBackendLike;
  const wv = b.typedArrayFromHeap(filter) as Float32Array;
  const dyv = b.typedArrayFromHeap(dy) as Float32Array;
  const out = b.typedArrayFromHeap(dx) as Float32Array;
  forEachTap(c, (xi, dyi, wi) => {
    out[xi] += dyv[dyi] * wv[wi];
  });
  return dx;
}
