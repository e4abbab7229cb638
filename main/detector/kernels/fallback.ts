/**
 * Calling one of wasm's own kernels from a kernel that wraps it. wasm binds a kernel's C entry points in
 * its setupFunc, which it runs only for kernels registered when the backend starts; a wrapper registered
 * before that replaced it, so the original is bound here on its first use, once per backend.
 */
import type * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap };
export type KernelFunc = (args: KernelArgs) => TensorInfo | TensorInfo[];

export function wasmFallback(original: tf.KernelConfig): KernelFunc {
  const bound = new WeakSet<object>();
  return (args) => {
    const backend = args.backend as object;
    if (original.setupFunc && !bound.has(backend)) {
      original.setupFunc(backend as never);
      bound.add(backend);
    }
    return original.kernelFunc(args as never);
  };
}
