/**
 * Training throughput (images/s, 256², batch 8) per backend and variant, on one thread and on two
 * (data parallel), and the convolution kernels a step spends most of its time in. Where the native
 * kernels are built (main/detector/kernels/native) every figure is taken on them (`wasm_native.*`) and
 * again on wasm's own kernels (`wasm.*`), back to back, with their ratio; the cpu backend places both.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel } from '../main/detector/model.ts';
import { nativeKernels, registerWasmGradientKernels, trainingKernels, useNativeKernels, useOriginalWasmKernel } from '../main/detector/kernels/index.ts';
import { DEFAULT_ATTENTION_WEIGHT, detectorObjective } from '../main/training/objective.ts';
import { GradientPool } from '../main/training/parallel.ts';

type Report = (figure: string, value: number, unit: string) => void;

function timeIt(f: () => void, repeats: number, warmUp = true): number {
  if (warmUp) f(); // kernel setup, XNNPACK operator creation
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) f();
  return (performance.now() - t0) / repeats;
}

async function trainingThroughput(report: Report, backend: string, variant: 'baseline' | 'cbam', steps: number, B = 8, warmUp = true): Promise<number> {
  await tf.setBackend(backend);
  await tf.ready();
  const S = 256;
  const model = buildModel({ variant, inputSize: S });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([B, S, S, 3]);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, S / 4, S / 4, 1]), 0.9), 'float32'));
  // The objective studio train minimises: cbam's gate nearest the output (the decoder's) is supervised by the mask.
  const objective = detectorObjective(model, DEFAULT_ATTENTION_WEIGHT);
  const step = () => {
    const loss = optimizer.minimize(() => objective(x as tf.Tensor4D, y as tf.Tensor4D), true) as tf.Scalar;
    loss.dataSync();
    loss.dispose();
  };
  const ms = timeIt(step, steps, warmUp);
  report(`${kernelSet(backend)}.${variant}.train_256_b${B}`, (B * 1000) / ms, 'images/s');
  report(`${kernelSet(backend)}.${variant}.train_step_256_b${B}`, ms, 'ms');
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return (B * 1000) / ms;
}

/** The same step split over `threads` worker threads (data parallel): what more cores buy under Node. */
async function parallelThroughput(report: Report, threads: number, steps: number): Promise<number> {
  await tf.setBackend('wasm');
  const S = 256;
  const B = 8;
  const model = buildModel({ variant: 'cbam', inputSize: S });
  const optimizer = tf.train.adam(1e-3);
  const x = Float32Array.from({ length: B * S * S * 3 }, () => Math.random());
  const y = Float32Array.from({ length: B * (S / 4) ** 2 }, () => (Math.random() > 0.9 ? 1 : 0));
  // Each worker loads the native kernels itself, unless its environment (a copy of ours) says not to.
  const off = !nativeKernels().active && process.env.STUDIO_NATIVE_KERNELS === undefined;
  if (off) process.env.STUDIO_NATIVE_KERNELS = 'off';
  const pool = await GradientPool.create(model, threads, 'wasm', DEFAULT_ATTENTION_WEIGHT).finally(() => {
    if (off) delete process.env.STUDIO_NATIVE_KERNELS;
  });
  try {
    await pool.step(model, optimizer, x, y, B, S);
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await pool.step(model, optimizer, x, y, B, S);
    const ms = (performance.now() - t0) / steps;
    report(`${kernelSet('wasm')}.cbam.train_256_b8_${threads}threads`, (B * 1000) / ms, 'images/s');
    return (B * 1000) / ms;
  } finally {
    await pool.close();
    model.dispose();
    optimizer.dispose();
  }
}

/** The kernel set a figure was measured on: wasm with the native conv kernels, or wasm's own. */
function kernelSet(backend: string): string {
  return backend === 'wasm' && nativeKernels().active ? 'wasm_native' : backend;
}

/** Runs `f` with the native conv kernels on (the default where they are built) or off, then restores them. */
async function withNative<T>(on: boolean, f: () => T | Promise<T>): Promise<T> {
  useNativeKernels(on);
  try {
    return await f();
  } finally {
    useNativeKernels(true);
  }
}

function kernelTimes(report: Report): void {
  // Stage-1 body of the detector at 256² (8 × 128² × 16 → 16) and its stride-2 entry, the largest convolutions.
  // cpu's filter gradient takes ~90 s at batch 8: a batch-2 copy of the first case places cpu.
  const cases = [
    { name: 's1_8x128x128x16', x: [8, 128, 128, 16], w: [3, 3, 16, 16], stride: 1, backends: ['wasm'] },
    { name: 's2_8x256x256x3', x: [8, 256, 256, 3], w: [3, 3, 3, 16], stride: 2, backends: ['wasm'] },
    { name: 's2_8x128x128x16to32', x: [8, 128, 128, 16], w: [3, 3, 16, 32], stride: 2, backends: ['wasm'] },
    { name: 's1_2x128x128x16', x: [2, 128, 128, 16], w: [3, 3, 16, 16], stride: 1, backends: ['wasm', 'cpu'] },
  ];
  const hasNative = useNativeKernels(true);
  for (const c of cases) {
    for (const backend of c.backends) {
      tf.setBackend(backend);
      const x = tf.randomNormal(c.x as [number, number, number, number]) as tf.Tensor4D;
      const w = tf.randomNormal(c.w as [number, number, number, number]) as tf.Tensor4D;
      const dy = tf.tidy(() => tf.randomNormal(tf.conv2d(x, w, c.stride, 'same').shape)) as tf.Tensor4D;
      const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => () => {
        const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
        out.dataSync();
        out.dispose();
      };
      const kernels = {
        conv2d_forward: () => {
          // Read outside tf.tidy: tidy walks a returned typed array element by element (see FACTS).
          const out = tf.conv2d(x, w, c.stride, 'same');
          out.dataSync();
          out.dispose();
        },
        Conv2DBackpropInput: run('Conv2DBackpropInput', { dy, filter: w }, { strides: c.stride, pad: 'same', dataFormat: 'NHWC', inputShape: c.x }),
        Conv2DBackpropFilter: run('Conv2DBackpropFilter', { x, dy }, { strides: c.stride, pad: 'same', dataFormat: 'NHWC', filterShape: c.w }),
      };
      const repeats = backend === 'cpu' ? 1 : 3;
      for (const [kernel, f] of Object.entries(kernels)) {
        const ms = timeIt(f, repeats);
        report(`${kernelSet(backend)}.${kernel}.${c.name}`, ms, 'ms');
        if (backend === 'wasm' && hasNative) {
          // wasm's own: XNNPACK forward and input gradient, and the studio's filter gradient on XNNPACK's matmul.
          useNativeKernels(false);
          const wasmMs = timeIt(f, repeats);
          useNativeKernels(true);
          report(`wasm.${kernel}.${c.name}`, wasmMs, 'ms');
          report(`wasm_native.${kernel}.${c.name}.speedup_over_wasm`, wasmMs / ms, 'ratio');
        }
      }
      tf.dispose([x, w, dy]);
    }
  }
}

/** The wrapped reductions against wasm's own, on the largest BatchNorm activation of a 256² step. */
function reductionTimes(report: Report): void {
  // kernelTimes ends on cpu: without this the figures named wasm timed cpu's Sum twice.
  tf.setBackend('wasm');
  const x = tf.randomNormal([8, 128, 128, 16]);
  const sum = () => {
    const s = tf.sum(x, [0, 1, 2]);
    s.dataSync();
    s.dispose();
  };
  const ours = timeIt(sum, 10);
  report('wasm.Sum_outer_axes.8x128x128x16', ours, 'ms');
  if (useOriginalWasmKernel('Sum', true)) {
    const theirs = timeIt(sum, 10);
    useOriginalWasmKernel('Sum', false);
    report('wasm_original.Sum_outer_axes.8x128x128x16', theirs, 'ms');
    report('wasm.Sum_outer_axes.speedup', theirs / ours, 'ratio');
  }
  x.dispose();
}

export async function run(report: Report): Promise<void> {
  registerWasmGradientKernels();
  await tf.setBackend('wasm');
  await tf.ready();
  const native = nativeKernels();
  process.stderr.write(`bench: training kernels: ${trainingKernels('wasm')}\n`);
  kernelTimes(report);
  reductionTimes(report);
  await trainingThroughput(report, 'wasm', 'baseline', 3);
  const cbam = await trainingThroughput(report, 'wasm', 'cbam', 3);
  // Each of 2 threads steps on 4 images: their one-thread rate is what perfect scaling would double.
  const share = await trainingThroughput(report, 'wasm', 'cbam', 3, 4);
  const parallel = await parallelThroughput(report, 2, 3);
  report(`${kernelSet('wasm')}.cbam.parallel_efficiency_2threads`, parallel / (2 * share), 'ratio');
  report(`${kernelSet('wasm')}.cbam.ratio_to_target_10_images_per_s`, parallel / 10, 'ratio');
  if (native.active) {
    // The same steps on wasm's own kernels, back to back, so the ratio is not a drift of the machine.
    const wasmCbam = await withNative(false, () => trainingThroughput(report, 'wasm', 'cbam', 3));
    report('wasm_native.cbam.train_256_b8.speedup_over_wasm', cbam / wasmCbam, 'ratio');
    const wasmParallel = await withNative(false, () => parallelThroughput(report, 2, 3));
    report('wasm_native.cbam.train_256_b8_2threads.speedup_over_wasm', parallel / wasmParallel, 'ratio');
  }
  // cpu is ~20-50x slower than wasm: one cold step of batch 1 is enough to place it (68 s here, where a
  // warm-up plus a timed batch-2 step took 179 s, most of the suite). Not comparable with the old _b2.
  await trainingThroughput(report, 'cpu', 'cbam', 1, 1, false);
  await tf.setBackend('wasm');
}
