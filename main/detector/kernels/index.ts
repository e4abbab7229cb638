/**
 * Training kernels the wasm backend lacks (or runs slowly), registered under backend 'wasm'.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` and no depthwise backprops (training throws), and
 * its `Conv2DBackpropInput` is a scalar loop that takes seconds per step. These replacements are written
 * with tf ops plus JS loops on the wasm heap; ops called inside a kernel are not recorded on the gradient
 * tape (tfjs only tapes at kernel depth 0), so they are safe to use here.
 *
 * Four more of wasm's kernels are wrapped, not replaced, for the cases training hits most: Sum and Mean
 * over outer axes (reduce.ts) and Identity and same-dtype Cast (alias.ts); their other cases still run
 * wasm's own code.
 *
 * Where the optional native library is built (native.ts), every convolution and both its gradients run
 * there instead (OpenBLAS sgemm on the wasm heap, about 3× XNNPACK's speed per core here); the kernels
 * above are then what runs for the cases it does not take, or with STUDIO_NATIVE_KERNELS=off.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { conv2DBackpropFilterWasm, conv2DBackpropInputWasm } from './conv2d.ts';
import { depthwiseBackpropFilterWasm, depthwiseBackpropInputWasm } from './depthwise.ts';
import { registerFastGradients } from './gradients.ts';
import { aliasKernel } from './alias.ts';
import { outerReduceKernel } from './reduce.ts';
import { wasmFallback } from './fallback.ts';
import { nativeConvBackpropFilter, nativeConvBackpropInput, nativeConvForward } from './native.ts';

export { nativeKernels, trainingKernels, useNativeKernels } from './native.ts';

type KernelFunc = tf.KernelConfig['kernelFunc'];

const REPLACED: Record<string, KernelFunc> = {
  Conv2DBackpropFilter: nativeConvBackpropFilter(conv2DBackpropFilterWasm as never) as unknown as KernelFunc,
  Conv2DBackpropInput: nativeConvBackpropInput(conv2DBackpropInputWasm as never) as unknown as KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterWasm as unknown as KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputWasm as unknown as KernelFunc,
};

/** wasm kernels wrapped rather than replaced: ours takes the cases it is faster on, theirs the rest. */
const WRAPPED: Record<string, (original: tf.KernelConfig) => KernelFunc> = {
  Sum: (original) => outerReduceKernel('sum', original) as unknown as KernelFunc,
  Mean: (original) => outerReduceKernel('mean', original) as unknown as KernelFunc,
  Identity: (original) => aliasKernel('identity', original) as unknown as KernelFunc,
  Cast: (original) => aliasKernel('cast', original) as unknown as KernelFunc,
  Conv2D: (original) => nativeConvForward(wasmFallback(original), false) as unknown as KernelFunc,
  FusedConv2D: (original) => nativeConvForward(wasmFallback(original), true) as unknown as KernelFunc,
};

/** wasm's own kernels that were replaced, kept so benchmarks can time before against after. */
const originals = new Map<string, tf.KernelConfig>();
const ours = new Map<string, KernelFunc>(Object.entries(REPLACED));
let registered = false;

/**
 * Registers the wasm training kernels, and the cheaper (value-identical) Max and FusedBatchNorm gradients
 * that every backend then uses. Idempotent.
 */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  registerFastGradients();
  for (const [kernelName, wrap] of Object.entries(WRAPPED)) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing) ours.set(kernelName, wrap(existing));
  }
  for (const [kernelName, kernelFunc] of ours) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing) {
      originals.set(kernelName, existing);
      tf.unregisterKernel(kernelName, 'wasm');
    }
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}

/** For benchmarks: swap wasm's original kernel back in (true) or ours (false). */
export function useOriginalWasmKernel(kernelName: string, original: boolean): boolean {
  const orig = originals.get(kernelName);
  const mine = ours.get(kernelName);
  if (!orig || !mine) return false;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(original ? orig : { kernelName, backendName: 'wasm', kernelFunc: mine });
  // wasm binds its C entry points in setupFunc, which it only runs for kernels present at backend init.
  if (original) orig.setupFunc?.(tf.findBackend('wasm') as never);
  return true;
}
