/**
 * Identity, and Cast to the dtype a tensor already has, as new references to the same data on wasm.
 *
 * wasm copies the whole tensor for both; tfjs-layers and tfjs-core's gradients call them hundreds of times
 * per training step (the tape's identities, `cast(x, 'float32')` on float inputs), ~4% of a CBAM step at
 * 256². Tensor data is immutable (a Variable's assign swaps its data id), so sharing is safe, and it is
 * what wasm's own Reshape and the cpu backend's Identity already do: count a reference and return it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import { type KernelFunc, wasmFallback } from './fallback.ts';

interface RefCounting {
  incRef(dataId: object): void;
}

/** wasm's own kernel still handles strings and real dtype changes. */
export function aliasKernel(kind: 'identity' | 'cast', original: tf.KernelConfig): KernelFunc {
  const fallback = wasmFallback(original);
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    const same = x.dtype !== 'string' && (kind === 'identity' || (args.attrs as { dtype?: string } | undefined)?.dtype === x.dtype);
    if (same) {
      (args.backend as RefCounting).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }
    return fallback(args);
  };
}
