/**
 * Detector speed, per variant and backend: inference latency at 256² and 512² (median), batch throughput
 * with one worker per core, analytic model FLOPs and the GFLOP/s they achieve, next to a 1024² matmul
 * ceiling on the same backend. Targets on the 2-core build machine: 512² ≤ 100 ms, ≥ 40 images/s at 256².
 * When a target is missed, the per-kernel profile (tf.profile) says where the time goes (stderr).
 * Test-time mirror averaging (flips h, hv) is timed against one view: the views run as one batch, so
 * they should cost less than 2× and 4×. The appearance score is timed against the same detection without it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../main/detector/backend.ts';
import { DetectorEngine, coreCount } from '../main/detector/engine.ts';
import { saveModel } from '../main/detector/io.ts';
import { FLIP_SETS, passes } from '../main/detector/flips.ts';
import { TfjsDetector } from '../main/detector/tfjs-detector.ts';
import { detect } from '../main/detector/pipeline.ts';
import { DEFAULT_WIDTHS, VARIANTS, buildInferenceModel, buildModel, foldBatchNorm, modelFlops, type Variant } from '../main/detector/model.ts';
import { fitAppearance } from '../main/detector/appearance.ts';
import { quantile } from '../main/core/stats.ts';

type Report = (figure: string, value: number, unit: string) => void;

const note = (line: string) => process.stderr.write(`  ${line}\n`);
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** Median and best-of-runs latency in ms (the best run shows the cost when the shared cores are free). */
async function latency(model: tf.LayersModel, size: number, runs: number): Promise<{ median: number; min: number }> {
  const x = tf.randomUniform([1, size, size, 3]);
  const times: number[] = [];
  const warmup = runs > 3 ? 2 : 1;
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    const outs = [model.predict(x)].flat() as tf.Tensor[];
    await Promise.all(outs.map((o) => o.data()));
    if (i >= warmup) times.push(performance.now() - t0); // the first runs compile and allocate
    tf.dispose(outs);
  }
  x.dispose();
  return { median: median(times), min: Math.min(...times) };
}

/**
 * Median detect() latency of one 256² image for each mirror set, in ms, and with the appearance score
 * (statistics of the model's 160 features, so pooling each view and one 160² quadratic form are timed).
 */
async function flipLatency(variant: Variant, size: number, runs: number): Promise<Record<string, number>> {
  const detector = new TfjsDetector(buildModel({ variant, inputSize: size }));
  const image = { width: size, height: size, data: new Uint8Array(size * size * 3).map((_, i) => (i * 31) % 251) };
  const features = detector.outputs.filter((o) => o.kind === 'features').length ? DEFAULT_WIDTHS[2] + DEFAULT_WIDTHS[3] : 0;
  const fitted = fitAppearance(Array.from({ length: 200 }, (_, n) => Float32Array.from({ length: features }, (_, k) => 1 + ((n * 7 + k * 13) % 17) / 17)));
  const appearance = { ...fitted, layers: [], threshold: 2 };
  const out: Record<string, number> = {};
  for (const [name, options] of FLIP_SETS.flatMap((flips) => [[flips, { flips }], [`${flips}_appearance`, { flips, appearance }]] as const)) {
    const times: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      await detect(detector, image, options);
      if (i >= 2) times.push(performance.now() - t0);
    }
    out[name] = median(times);
  }
  detector.dispose();
  return out;
}

async function matmulCeiling(n: number): Promise<number> {
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    times.push(performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (median(times.slice(1)) / 1000) / 1e9;
}

async function profile(model: tf.LayersModel, size: number): Promise<void> {
  const x = tf.randomUniform([1, size, size, 3]);
  const info = await tf.profile(async () => {
    const outs = [model.predict(x)].flat() as tf.Tensor[];
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
  });
  x.dispose();
  const byKernel = new Map<string, number>();
  for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0));
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  const top = [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
  note(`where the time goes at ${size}² (${total.toFixed(0)} ms of kernels): ${top.map(([k, ms]) => `${k} ${((100 * ms) / total).toFixed(0)}%`).join(', ')}`);
}

async function throughput(dir: string, backend: string, size: number, images: number): Promise<number> {
  const workers = coreCount();
  const engine = new DetectorEngine({ workers, backend, runtime: 'tfjs' }); // this bench measures TF.js; bench/runtime.ts measures onnxruntime
  try {
    const image = { width: size, height: size, data: new Uint8Array(size * size * 3).map((_, i) => (i * 31) % 251) };
    await Promise.all(Array.from({ length: workers * 2 }, () => engine.detect(dir, image))); // load + warm every worker
    const t0 = performance.now();
    await Promise.all(Array.from({ length: images }, () => engine.detect(dir, image)));
    return images / ((performance.now() - t0) / 1000);
  } finally {
    await engine.close();
  }
}

export async function run(report: Report): Promise<void> {
  const state = await startBackend();
  const backends = [state.backend, ...(state.backend !== 'cpu' ? ['cpu'] : [])];
  const tmp = mkdtempSync(join(tmpdir(), 'bench-detector-'));
  note(`${coreCount()} cores; backends: ${backends.join(', ')}`);
  // The build machine's cores are shared with other jobs: record how busy they were.
  report('load_average_1m', loadavg()[0], 'runnable threads');
  try {
    for (const backend of backends) {
      await tf.setBackend(backend);
      const slow = backend === 'cpu';
      report(`${backend}.matmul1024_ceiling`, await matmulCeiling(1024), 'GFLOP/s');
      for (const variant of VARIANTS as readonly Variant[]) {
        const perSize: Record<number, number> = {};
        for (const size of [256, 512]) {
          const trained = buildModel({ variant, inputSize: size });
          // What the engine runs: BatchNorm folded into the convolutions, every attention map as an output.
          const { model } = buildInferenceModel(foldBatchNorm(trained));
          const flops = modelFlops(trained);
          const { median: ms, min } = await latency(model, size, slow ? 3 : 10);
          perSize[size] = ms;
          report(`${backend}.${variant}.flops_${size}`, flops / 1e9, 'GFLOP');
          report(`${backend}.${variant}.latency_${size}`, ms, 'ms');
          report(`${backend}.${variant}.latency_${size}_best`, min, 'ms');
          report(`${backend}.${variant}.gflops_${size}`, flops / 1e9 / (ms / 1000), 'GFLOP/s');
          if (size === 512 && ms > 100 && !slow) await profile(model, size);
          if (size === 256) await saveModel(trained, join(tmp, `${backend}-${variant}`));
          if (size === 256 && variant === 'cbam' && !slow) {
            const byFlips = await flipLatency(variant, size, 10);
            for (const f of FLIP_SETS) {
              report(`${backend}.cbam.detect_256_flips_${f}`, byFlips[f], 'ms');
              if (f !== 'none') report(`${backend}.cbam.detect_256_flips_${f}_cost`, byFlips[f] / byFlips.none, `× one view (${passes(f)} views)`);
              report(`${backend}.cbam.detect_256_flips_${f}_appearance_cost`, byFlips[`${f}_appearance`] / byFlips[f], '× without the appearance score');
            }
          }
          trained.dispose();
        }
        const rate = await throughput(join(tmp, `${backend}-${variant}`), backend, 256, slow ? 8 : 80);
        report(`${backend}.${variant}.batch_256_images_per_s`, rate, 'images/s');
        if (!slow) note(`${variant} on ${backend}: 512² ${perSize[512].toFixed(0)} ms (target ≤ 100), batch ${rate.toFixed(1)} images/s at 256² (target ≥ 40)`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
