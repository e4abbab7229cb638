/**
 * Inference runtimes side by side: onnxruntime-node (CPU execution provider) and TF.js wasm.
 * Per runtime: model latency at 256² and 512² (median; the interactive thread setting), batch throughput
 * through the detector engine with one worker per core, achieved GFLOP/s (analytic FLOPs from the layer
 * shapes, main/detector/model.ts modelFlops) next to a 2048² matmul ceiling on the same runtime, and
 * `studio analyze` over the Kvasir-SEG polyp images (decoding and output PNGs included, and findings only) against the pure
 * inference rate of the same engine on the same, already decoded images.
 * Targets on the 2-core build machine: 512² ≤ 30 ms; analyze ≥ 60 images/s; analyze ≥ 90% of inference.
 * Where time goes is printed to stderr. No GPU is lent to this project: CUDA is not measured here.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { analyze } from '../main/batch/analyze.ts';
import { decodeImage } from '../main/detector/decode.ts';
import { startBackend } from '../main/detector/backend.ts';
import { DetectorEngine, coreCount } from '../main/detector/engine.ts';
import { saveModel } from '../main/detector/io.ts';
import { buildInferenceModel, buildModel, modelFlops, type Variant } from '../main/detector/model.ts';
import { letterbox, type RGBImage } from '../main/detector/preprocess.ts';
import { cropMap, imageCells } from '../main/detector/postprocess.ts';
import { mapToGrey, writeGreyPng, writeOverlayPng } from '../main/batch/outputs.ts';
import { listImageFiles, loadImageFile, toRGB8 } from '../main/imaging/index.ts';
import { exportOnnx } from '../main/detector/runtime/onnx/export.ts';
import { OnnxGraph } from '../main/detector/runtime/onnx/graph.ts';
import { createSession, loadOrt, type OrtModule } from '../main/detector/runtime/ort.ts';
import { threadsPerWorker } from '../main/detector/runtime/threads.ts';
import { referenceData } from '../main/settings.ts';
import { quantile } from '../main/core/stats.ts';

type Report = (figure: string, value: number, unit: string) => void;

const note = (line: string) => process.stderr.write(`  ${line}\n`);
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);
const VARIANTS_TIMED: Variant[] = ['cbam', 'nonlocal'];
/** The variant for throughput and `studio analyze` (CBAM: spatial attention maps, as the studio ships). */
const BATCH_VARIANT: Variant = 'cbam';
const BATCH_SIZE = 256;
const ANALYZE_LIMIT = Number(process.env.BENCH_ANALYZE_IMAGES ?? 1000);

/** Median wall time of `run`; the fastest run is kept in `lastBest` (on a shared machine it is the closest to an idle one). */
let lastBest = 0;
async function timeRuns(run: () => Promise<unknown>, runs: number, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  lastBest = Math.min(...times);
  return median(times);
}

function ortSession(ort: OrtModule, bytes: Uint8Array, threads: number) {
  // The same session options as the studio's (main/detector/runtime/ort.ts), non-spinning idle threads included.
  return createSession(ort, bytes, { threads, provider: 'cpu' }).then((c) => c.session);
}

async function ortMatmul(ort: OrtModule, n: number, threads: number): Promise<number> {
  const g = new OnnxGraph('matmul');
  g.node('MatMul', [g.input('a', [n, n]), g.input('b', [n, n])], 'c', {}, 'c');
  g.output('c', [n, n]);
  const s = await ortSession(ort, g.encode({ producer: 'bench', version: '1' }), threads);
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, () => Math.random()), [n, n]);
  const ms = await timeRuns(() => s.run({ a, b: a }), 5, 2);
  await s.release();
  return (2 * n ** 3) / (ms / 1000) / 1e9;
}

async function tfjsMatmul(n: number): Promise<number> {
  const a = tf.randomUniform([n, n]);
  const ms = await timeRuns(async () => {
    const c = tf.matMul(a, a);
    await c.data();
    c.dispose();
  }, 3, 1);
  a.dispose();
  return (2 * n ** 3) / (ms / 1000) / 1e9;
}

async function decodeAll(files: string[]): Promise<RGBImage[]> {
  const out: RGBImage[] = [];
  for (const f of files) {
    const loaded = await loadImageFile(f);
    out.push(toRGB8(await loaded.frame(0)));
  }
  return out;
}

/** Engine throughput on decoded images: the pure inference rate (letterbox, model, maps, findings in the workers). */
async function engineRate(runtime: string, modelDir: string, images: RGBImage[], workers: number): Promise<{ rate: number; cpuMs: number; backend: string }> {
  const engine = new DetectorEngine({ workers, runtime, backend: 'wasm' });
  try {
    const state = await engine.backend();
    // Warm every worker (first use exports/loads the model in each).
    await Promise.all(Array.from({ length: workers * 2 }, (_, i) => engine.detect(modelDir, images[i % images.length])));
    const t0 = performance.now();
    const c0 = process.cpuUsage(); // process-wide: the worker threads' CPU time is included
    await Promise.all(images.map((img) => engine.detect(modelDir, img)));
    const c = process.cpuUsage(c0);
    return { rate: images.length / ((performance.now() - t0) / 1000), cpuMs: (c.user + c.system) / 1000 / images.length, backend: state.backend };
  } finally {
    await engine.close();
  }
}

/**
 * Where analyze's CPU time goes, stage by stage on one thread (process CPU time, so other tenants of the
 * machine do not count): decode, letterbox, inference (1 intra-op thread, as in batch), the two map
 * resizes and the three PNGs.
 */
async function analyzeStages(report: Report, ort: OrtModule, files: string[], out: string): Promise<void> {
  const S = BATCH_SIZE;
  const session = await ortSession(ort, exportOnnx(buildModel({ variant: BATCH_VARIANT, inputSize: S })).bytes, 1);
  const spent: Record<string, number> = { decode: 0, letterbox: 0, inference: 0, maps_to_image_size: 0, png_writes: 0 };
  const cpu = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  for (const [i, file] of files.entries()) {
    let t = cpu();
    const lap = (stage: string) => {
      const now = cpu();
      spent[stage] += now - t;
      t = now;
    };
    const image = await decodeImage(file); // analyze's own decoder
    lap('decode');
    const { input, box } = letterbox(image, S);
    lap('letterbox');
    const r = await session.run({ image: new ort.Tensor('float32', input, [1, S, S, 3]) });
    lap('inference');
    const cells = imageCells(box, 4);
    const heatmap = cropMap(r.lesion.data as Float32Array, S / 4, cells.cols, cells.rows);
    const [heat, att] = await Promise.all([mapToGrey(heatmap, image.width, image.height), mapToGrey(heatmap, image.width, image.height)]);
    lap('maps_to_image_size');
    await Promise.all([writeGreyPng(heat, image.width, image.height, join(out, `${i}.h.png`)), writeGreyPng(att, image.width, image.height, join(out, `${i}.a.png`)), writeOverlayPng(image, heat, [], join(out, `${i}.o.png`))]);
    lap('png_writes');
  }
  await session.release();
  for (const [stage, ms] of Object.entries(spent)) report(`onnxruntime.analyze_cpu_ms.${stage}`, ms / files.length, 'ms');
  note(`analyze CPU per image by stage: ${Object.entries(spent).map(([k, v]) => `${k} ${(v / files.length).toFixed(1)} ms`).join(', ')}`);
  const total = Object.values(spent).reduce((a, b) => a + b, 0);
  const outputs = spent.maps_to_image_size + spent.png_writes;
  note(`the per-image outputs (two maps resized to the image, three PNGs) take ${((100 * outputs) / total).toFixed(0)}% of analyze's CPU, inference and letterbox ${((100 * (spent.inference + spent.letterbox)) / total).toFixed(0)}%: on a CPU-bound machine analyze cannot reach 90% of the inference-only rate while it writes them`);
}

export async function run(report: Report): Promise<void> {
  tf.enableProdMode(); // no debug checks, no console banner
  const home = tf.getBackend();
  const cores = coreCount();
  const work = mkdtempSync(join(tmpdir(), 'bench-runtime-'));
  note(`${cores} cores; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')} (shared machine: figures are noisy)`);
  try {
    // ---- onnxruntime-node --------------------------------------------------------------------------
    const loaded = await loadOrt();
    await tf.setBackend('cpu');
    if (!loaded) note('onnxruntime-node is not installed: onnxruntime figures skipped');
    else {
      const { ort } = loaded;
      const interactive = threadsPerWorker(1, cores);
      for (const variant of VARIANTS_TIMED) {
        for (const size of [256, 512]) {
          const trained = buildModel({ variant, inputSize: size });
          const flops = modelFlops(trained);
          const session = await ortSession(ort, exportOnnx(trained).bytes, interactive);
          const x = new ort.Tensor('float32', Float32Array.from({ length: size * size * 3 }, () => Math.random()), [1, size, size, 3]);
          const ms = await timeRuns(() => session.run({ image: x }), 20);
          const best = lastBest;
          const one = await ortSession(ort, exportOnnx(trained).bytes, 1);
          const ms1 = await timeRuns(() => one.run({ image: x }), 10);
          report(`onnxruntime.${variant}.latency_${size}`, ms, 'ms');
          report(`onnxruntime.${variant}.latency_${size}_best`, best, 'ms');
          report(`onnxruntime.${variant}.gflops_${size}`, flops / (ms / 1000) / 1e9, 'GFLOP/s');
          report(`onnxruntime.${variant}.latency_${size}_1thread`, ms1, 'ms');
          if (variant === BATCH_VARIANT) report(`model_gflop_${size}`, flops / 1e9, 'GFLOP');
          note(`onnxruntime ${variant} ${size}²: ${ms.toFixed(1)} ms with ${interactive} threads, ${ms1.toFixed(1)} ms with 1 (${(flops / 1e9).toFixed(2)} GFLOP)`);
          await session.release();
          await one.release();
          trained.dispose();
        }
      }
      report('onnxruntime.matmul_2048_ceiling', await ortMatmul(ort, 2048, interactive), 'GFLOP/s');
      report('onnxruntime.matmul_2048_ceiling_1thread', await ortMatmul(ort, 2048, 1), 'GFLOP/s');
    }

    // ---- TF.js wasm (the fallback runtime) ---------------------------------------------------------
    const state = await startBackend('wasm');
    await tf.setBackend(state.backend);
    for (const variant of VARIANTS_TIMED) {
      for (const size of [256, 512]) {
        const trained = buildModel({ variant, inputSize: size });
        const flops = modelFlops(trained);
        const { model } = buildInferenceModel(trained);
        const x = tf.randomUniform([1, size, size, 3]);
        const ms = await timeRuns(async () => {
          const outs = [model.predict(x)].flat() as tf.Tensor[];
          await Promise.all(outs.map((o) => o.data()));
          tf.dispose(outs);
        }, size === 512 ? 5 : 10, 2);
        x.dispose();
        trained.dispose();
        report(`tfjs-${state.backend}.${variant}.latency_${size}`, ms, 'ms');
        report(`tfjs-${state.backend}.${variant}.gflops_${size}`, flops / (ms / 1000) / 1e9, 'GFLOP/s');
      }
    }
    report(`tfjs-${state.backend}.matmul_2048_ceiling`, await tfjsMatmul(2048), 'GFLOP/s');

    // ---- batch throughput and studio analyze over the polyp images ---------------------------------
    const data = referenceData('kvasir-seg/images');
    const modelDir = join(work, 'models', 'bench');
    await tf.setBackend('cpu');
    await saveModel(buildModel({ variant: BATCH_VARIANT, inputSize: BATCH_SIZE }), modelDir, { name: 'bench', variant: BATCH_VARIANT, inputSize: BATCH_SIZE });
    let files: string[];
    if ('skip' in data) {
      note(`${data.skip}: batch figures use synthetic images; analyze is skipped`);
      files = [];
    } else files = (await listImageFiles([data.dir])).files.sort().slice(0, ANALYZE_LIMIT);
    const sample = files.length ? await decodeAll(files.slice(0, 120)) : Array.from({ length: 120 }, () => ({ width: 622, height: 529, data: Uint8Array.from({ length: 622 * 529 * 3 }, () => Math.random() * 255) }));
    // Interactive: one worker (2 intra-op threads on 2 cores), a polyp image end to end (letterbox, model, maps, findings).
    for (const size of [256, 512]) {
      const dir = join(work, 'models', `interactive${size}`);
      await saveModel(buildModel({ variant: BATCH_VARIANT, inputSize: size }), dir, { name: `interactive${size}`, variant: BATCH_VARIANT, inputSize: size });
      for (const runtime of loaded ? ['onnxruntime', 'tfjs'] : ['tfjs']) {
        const engine = new DetectorEngine({ workers: 1, runtime, backend: 'wasm' });
        try {
          const image = sample[0];
          const ms = await timeRuns(() => engine.detect(dir, image), runtime === 'tfjs' && size === 512 ? 5 : 15, 2);
          report(`${runtime === 'onnxruntime' ? 'onnxruntime' : `tfjs-${state.backend}`}.detect_${size}_end_to_end`, ms, 'ms');
        } finally {
          await engine.close();
        }
      }
    }
    for (const runtime of loaded ? ['onnxruntime', 'tfjs'] : ['tfjs']) {
      const name = runtime === 'onnxruntime' ? 'onnxruntime' : `tfjs-${state.backend}`;
      const pure = await engineRate(runtime, modelDir, runtime === 'tfjs' ? sample.slice(0, 40) : sample, cores);
      report(`${name}.batch_${BATCH_SIZE}_images_per_s`, pure.rate, 'images/s');
      // CPU time per image does not depend on what else the shared machine runs; cores / it is the rate on idle cores.
      report(`${name}.batch_${BATCH_SIZE}_cpu_ms_per_image`, pure.cpuMs, 'ms');
      report(`${name}.batch_${BATCH_SIZE}_images_per_s_idle_cores`, (cores * 1000) / pure.cpuMs, 'images/s');
      note(`${name}: engine with ${cores} workers on decoded ${BATCH_SIZE}² input: ${pure.rate.toFixed(1)} images/s (${pure.backend})`);
      if (!files.length) continue;
      const subset = runtime === 'tfjs' ? files.slice(0, 100) : files;
      // All outputs (the default: three PNGs per image) and findings only (`--outputs none`).
      for (const [label, outputs] of [['analyze', undefined], ['analyze_findings_only', []]] as const) {
        const out = join(work, `${label}-${runtime}`);
        const t0 = process.cpuUsage();
        const summary = await analyze({ inputs: subset, modelDir, modelName: 'bench', out, runtime, backend: 'wasm', outputs });
        const cpu = process.cpuUsage(t0);
        report(`${name}.${label}_images_per_s`, summary.imagesPerSec, 'images/s');
        report(`${name}.${label}_vs_inference`, (100 * summary.imagesPerSec) / pure.rate, '%');
        const cpuMs = (cpu.user + cpu.system) / 1000 / Math.max(1, summary.analysed);
        report(`${name}.${label}_cpu_ms_per_image`, cpuMs, 'ms');
        report(`${name}.${label}_images_per_s_idle_cores`, (cores * 1000) / cpuMs, 'images/s');
        note(`${name}: studio analyze${outputs ? ' --outputs none' : ''} of ${summary.analysed} Kvasir images (decode + inference${outputs ? '' : ' + 3 PNGs each'}): ${summary.imagesPerSec.toFixed(1)} images/s, ${summary.failed.length} failed; CPU ${cpuMs.toFixed(1)} ms/image (all threads, worker start-up included) vs ${pure.cpuMs.toFixed(1)} ms for inference alone`);
        rmSync(out, { recursive: true, force: true });
      }
    }
    if (loaded && files.length) {
      mkdirSync(join(work, 'stages'));
      await analyzeStages(report, loaded.ort, files.slice(0, 40), join(work, 'stages'));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (home) await tf.setBackend(home);
  }
}
