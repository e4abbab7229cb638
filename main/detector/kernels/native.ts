/**
 * Convolutions (forward, input gradient, filter gradient) on the native kernels of native/conv.c, for the
 * wasm backend, reading and writing the wasm heap in place: implicit-GEMM AVX2/FMA register tiles for 3×3
 * convolutions with outC a multiple of 8, direct loops for CBAM's one-channel gate, OpenBLAS sgemm
 * (pointwise, or after im2col) for the rest.
 *
 * The library is optional (scripts/build-native.mjs builds it at install where a C compiler and OpenBLAS
 * exist). Without it, or with STUDIO_NATIVE_KERNELS=off, or for a case it does not take (dilation,
 * NCHW, activations other than linear/relu, non-float dtypes), each kernel runs the wasm one it replaced.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { KernelArgs, KernelFunc } from './fallback.ts';

interface NativeModule {
  conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, out: Float32Array, geometry: Int32Array, relu: number): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  blas(): string;
}

interface WasmBackendLike {
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

const LIBRARY = 'build/native/studio_kernels.node';

/** The project root, found upward from this file (source tree or a bundle below out/). */
function projectRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return dir;
  return undefined;
}

let loaded: { module: NativeModule | null; why: string } | undefined;

function load(): { module: NativeModule | null; why: string } {
  if (loaded) return loaded;
  if (process.env.STUDIO_NATIVE_KERNELS === 'off') return (loaded = { module: null, why: 'turned off (STUDIO_NATIVE_KERNELS=off)' });
  const root = projectRoot();
  const file = root && join(root, LIBRARY);
  if (!file || !existsSync(file)) return (loaded = { module: null, why: `not built (${LIBRARY}; run node scripts/build-native.mjs, which needs a C compiler and OpenBLAS)` });
  try {
    const module = createRequire(import.meta.url)(file) as NativeModule;
    return (loaded = { module, why: `native conv kernels (${module.blas()} sgemm)` });
  } catch (err) {
    return (loaded = { module: null, why: `could not load ${LIBRARY}: ${(err as Error).message}` });
  }
}

let enabled = true;

/** Whether the native kernels run, and why not when they do not. */
export function nativeKernels(): { active: boolean; why: string } {
  const { module, why } = load();
  if (module && !enabled) return { active: false, why: 'switched off for comparison' };
  return { active: !!module, why };
}

/** The convolution kernels training on `backend` runs, in words, as model cards and `studio doctor` record them. */
export function trainingKernels(backend: string): string {
  if (backend !== 'wasm') return `${backend}'s own`;
  const { active, why } = nativeKernels();
  return active ? why : `wasm's own (native kernels ${why})`;
}

/** For tests and benchmarks: run the wasm kernels instead (false) or the native ones again (true). */
export function useNativeKernels(on: boolean): boolean {
  enabled = on;
  return !!load().module;
}

function active(): NativeModule | null {
  return enabled ? load().module : null;
}

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The geometry native/conv.c reads, or null for a case it does not take. */
function geometry(xShape: number[], filterShape: number[], attrs: NamedAttrMap | undefined): Int32Array | null {
  const a = (attrs ?? {}) as unknown as Attrs;
  if (a.dataFormat === 'NCHW') return null;
  const d = a.dilations ?? 1;
  if ((Array.isArray(d) ? d : [d, d]).some((v) => v !== 1)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.outHeight < 1 || info.outWidth < 1) return null;
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  );
}

const floats = (...ts: (TensorInfo | undefined)[]) => ts.every((t) => !t || t.dtype === 'float32');

/** Heap views are taken after the output is allocated: an allocation can grow (and so detach) the heap. */
function heap(backend: unknown, t: TensorInfo): Float32Array {
  return (backend as WasmBackendLike).typedArrayFromHeap(t) as Float32Array;
}

/** Conv2D and FusedConv2D (linear or relu, rank-1 bias) forward. */
export function nativeConvForward(fallback: KernelFunc, fused: boolean): KernelFunc {
  return (args: KernelArgs) => {
    const native = active();
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const activation = (args.attrs as { activation?: string } | undefined)?.activation ?? 'linear';
    if (!native || !x || !filter || preluActivationWeights || !floats(x, filter, bias) || (fused && activation !== 'linear' && activation !== 'relu')) return fallback(args);
    const g = geometry(x.shape, filter.shape, args.attrs);
    if (!g || (bias && (bias.shape.length !== 1 || bias.shape[0] !== g[6]))) return fallback(args);
    const out = (args.backend as WasmBackendLike).makeOutput([g[0], g[4], g[5], g[6]], 'float32');
    native.conv2dForward(heap(args.backend, x), heap(args.backend, filter), bias ? heap(args.backend, bias) : null, heap(args.backend, out), g, fused && activation === 'relu' ? 1 : 0);
    return out;
  };
}

export function nativeConvBackpropInput(fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const native = active();
    const { dy, filter } = args.inputs as Record<string, TensorInfo>;
    const inputShape = (args.attrs as { inputShape: number[] }).inputShape;
    const g = native && floats(dy, filter) ? geometry(inputShape, filter.shape, args.attrs) : null;
    if (!native || !g) return fallback(args);
    const dx = (args.backend as WasmBackendLike).makeOutput([...inputShape], 'float32');
    native.conv2dBackpropInput(heap(args.backend, dy), heap(args.backend, filter), heap(args.backend, dx), g);
    return dx;
  };
}

export function nativeConvBackpropFilter(fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const native = active();
    const { x, dy } = args.inputs as Record<string, TensorInfo>;
    const filterShape = (args.attrs as { filterShape: number[] }).filterShape;
    const g = native && floats(x, dy) ? geometry(x.shape, filterShape, args.attrs) : null;
    if (!native || !g) return fallback(args);
    const dw = (args.backend as WasmBackendLike).makeOutput([...filterShape], 'float32');
    native.conv2dBackpropFilter(heap(args.backend, x), heap(args.backend, dy), heap(args.backend, dw), g);
    return dw;
  };
}
