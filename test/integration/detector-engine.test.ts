/**
 * The inference engine end to end: worker threads, maps for every attention module, no tensor leaks,
 * a responsive event loop while inference runs, Grad-CAM, clear load errors, and the detector channels.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../main/detector/model.ts';
import { saveModel } from '../../main/detector/io.ts';
import { DetectorEngine } from '../../main/detector/engine.ts';
import { TfjsDetector } from '../../main/detector/tfjs-detector.ts';
import { detect } from '../../main/detector/pipeline.ts';
import { createDetectorHandlers } from '../../main/detector/handlers.ts';
import { EventHub } from '../../main/core/events.ts';
import type { ServiceContext } from '../../main/core/context.ts';
import { StudioError, type FramePixels, type ImageSummary } from '../../preload/contract.ts';
import { loadSettings } from '../../main/settings.ts';

await tf.setBackend('cpu');
tf.enableProdMode();
const modelsDir = mkdtempSync(join(tmpdir(), 'detector-engine-'));
await saveModel(buildModel({ variant: 'nonlocal', inputSize: 128 }), join(modelsDir, 'nl128'), { name: 'nl128', variant: 'nonlocal', inputSize: 128 });
await saveModel(buildModel({ variant: 'cbam', inputSize: 256 }), join(modelsDir, 'cbam256'), { name: 'cbam256', variant: 'cbam', inputSize: 256 });
await saveModel(buildModel({ variant: 'baseline', inputSize: 64 }), join(modelsDir, 'base64'), { name: 'base64', variant: 'baseline', inputSize: 64 });

// These tests exercise the TF.js path (the onnxruntime path has its own tests under main/runtime).
const engine = new DetectorEngine({ workers: 1, runtime: 'tfjs' });
after(async () => {
  await engine.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

function synthetic(width: number, height: number, seed = 1): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  return { width, height, data };
}

test('the worker runs a nonlocal model and returns the lesion map and every attention map over the image extent', async () => {
  const state = await engine.backend();
  assert.ok(['wasm', 'cpu', 'tensorflow'].includes(state.backend));
  const r = await engine.detect(join(modelsDir, 'nl128'), synthetic(300, 150));
  assert.equal(r.variant, 'nonlocal');
  // 300×150 into 128²: image region 128×64 → stride-4 lesion map 32×16
  assert.deepEqual([r.heatmap.width, r.heatmap.height], [32, 16]);
  assert.equal(r.heatmap.data.length, 32 * 16);
  assert.deepEqual(
    r.attention.map((a) => [a.name, a.kind, a.map.width, a.map.height]),
    [
      ['stage1/cbam_spatial', 'spatial', 64, 32],
      ['stage2/cbam_spatial', 'spatial', 32, 16],
      ['stage3/cbam_spatial', 'spatial', 16, 8],
      ['stage4/cbam_spatial', 'spatial', 8, 4],
      ['stage4/nonlocal_attention', 'nonlocal', 8, 4],
      ['decoder/cbam_spatial8', 'spatial', 16, 8],
    ],
  );
  for (const a of r.attention) assert.ok(a.map.data.every((v) => v >= 0 && v <= 1), a.name);
  // Each map says where it sits, so no reader parses layer names; this card records no supervision.
  assert.deepEqual(r.attention.map((a) => a.stage), [1, 2, 3, 4, 4, 'decoder']);
  assert.ok(r.attention.every((a) => a.supervised === false));
  assert.ok(r.ms > 0);
});

test('100 inferences in the worker keep tf.memory().numTensors flat', async () => {
  const dir = join(modelsDir, 'nl128');
  const image = synthetic(200, 160);
  await engine.detect(dir, image);
  await engine.gradcam(dir, image);
  const before = await engine.memory();
  for (let i = 0; i < 100; i++) await engine.detect(dir, image, { threshold: 0.01 });
  const afterRuns = await engine.memory();
  assert.equal(afterRuns.numTensors, before.numTensors);
  assert.equal(afterRuns.numBytes, before.numBytes);
});

test('event-loop lag stays under 50 ms while the worker runs inference (and would not if it ran here)', async () => {
  const dir = join(modelsDir, 'cbam256');
  const image = synthetic(640, 480);
  await engine.detect(dir, image); // load and warm up outside the measurement
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const started = performance.now();
  let inferenceMs = 0;
  for (let i = 0; i < 16; i++) inferenceMs += (await engine.detect(dir, image)).ms;
  histogram.disable();
  const elapsed = performance.now() - started;
  assert.ok(inferenceMs > 100, `inference must take real time for the check to mean anything (${inferenceMs} ms)`);
  // The 99th percentile: on these shared cores the OS sometimes deschedules the whole process for a
  // moment, which no code can prevent; a blocked event loop shows in every sample taken during inference.
  const p99 = histogram.percentile(99) / 1e6;
  assert.ok(p99 < 50, `p99 event-loop delay ${p99.toFixed(1)} ms (max ${(histogram.max / 1e6).toFixed(1)} ms) over ${elapsed.toFixed(0)} ms of inference`);

  // Contrast: the same kind of work on this thread blocks the loop for as long as each inference takes.
  const local = await TfjsDetector.load(join(modelsDir, 'nl128'));
  const blocked = monitorEventLoopDelay({ resolution: 5 });
  blocked.enable();
  let localMs = 0;
  for (let i = 0; i < 3; i++) {
    localMs = Math.max(localMs, (await detect(local, synthetic(256, 256))).ms);
    await new Promise((r) => setTimeout(r, 20));
  }
  blocked.disable();
  local.dispose();
  assert.ok(blocked.max / 1e6 > Math.min(50, localMs * 0.8), `in-thread inference (${localMs.toFixed(0)} ms) should show as lag; saw ${(blocked.max / 1e6).toFixed(1)} ms`);
});

test('Grad-CAM from the worker matches Grad-CAM computed on the cpu backend', async () => {
  const dir = join(modelsDir, 'nl128');
  const detector = await TfjsDetector.load(dir);
  // The model's weights are random, so for some images Grad-CAM finds no positive evidence and is all
  // zero (a valid answer). Prefer an image whose map is not, so the normalisation is checked too.
  let image = synthetic(128, 96, 7);
  let remote = await engine.gradcam(dir, image);
  for (let seed = 8; seed < 14 && Math.max(...remote.map.data) === 0; seed++) {
    image = synthetic(128, 96, seed);
    remote = await engine.gradcam(dir, image);
  }
  const local = detector.gradcam(image);
  detector.dispose();
  assert.equal(remote.layer, 'stage4/out');
  assert.deepEqual([remote.map.width, remote.map.height], [local.map.width, local.map.height]);
  assert.deepEqual([remote.map.width, remote.map.height], [8, 6]);
  const peak = Math.max(...remote.map.data);
  assert.ok(peak > 0.99 || (peak === 0 && Math.max(...local.map.data) === 0), `normalised to a peak of 1 (or empty on both backends); peak ${peak}`);
  let worst = 0;
  for (let i = 0; i < local.map.data.length; i++) worst = Math.max(worst, Math.abs(local.map.data[i] - remote.map.data[i]));
  assert.ok(worst < 1e-3, `max difference ${worst}`);
  await assert.rejects(engine.gradcam(dir, image, 'lesion_logits_nope'), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD');
});

test('a model folder that fails to load gives MODEL_LOAD_FAILED, and the worker goes on serving', async () => {
  const broken = join(modelsDir, 'broken');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'model.json'), '{"modelTopology": {}, "weightsManifest": [{"paths": ["weights.bin"], "weights": []}]}');
  await assert.rejects(engine.detect(broken, synthetic(64, 64)), (e: unknown) => e instanceof StudioError && e.code === 'MODEL_LOAD_FAILED' && e.message.includes(broken));
  const ok = await engine.detect(join(modelsDir, 'base64'), synthetic(64, 64));
  assert.equal(ok.variant, 'baseline');
  assert.deepEqual(ok.attention, []);
});

test('detector channels: models.list, detector.run and detector.gradcam on an open image', async () => {
  const rows = 120;
  const columns = 200;
  const values = new Float32Array(rows * columns).map((_, i) => (i % columns) * 5);
  const summary = { id: 'img1', windows: [{ center: 500, width: 1000 }] } as unknown as ImageSummary;
  const frame: FramePixels = { id: 'img1', frame: 0, rows, columns, channels: 1, data: values, invert: false, min: 0, max: 995 };
  const ctx: ServiceContext = {
    settings: { ...loadSettings(), modelsDir, runtime: 'tfjs' },
    events: new EventHub(),
    shell: 'browser',
    version: 'test',
    images: {
      summary: (id) => {
        if (id !== 'img1') throw new StudioError('NOT_FOUND', `no image ${id}`);
        return summary;
      },
      frame: async () => ({ ...frame, data: Float32Array.from(values) }),
    },
    log: () => {},
  };
  const service = createDetectorHandlers(ctx);
  try {
    const models = await service.handlers['models.list']({});
    assert.deepEqual(models.map((m) => m.name), ['base64', 'cbam256', 'nl128']);
    const r = await service.handlers['detector.run']({ imageId: 'img1', frame: 0, model: 'nl128', threshold: 0.5 });
    assert.equal(r.model, 'nl128');
    assert.equal(r.variant, 'nonlocal');
    assert.equal(r.imageId, 'img1');
    assert.ok(r.backend.length > 0);
    assert.deepEqual([r.heatmap.width, r.heatmap.height], [32, 20]);
    assert.equal(r.attention.length, 6);
    const g = await service.handlers['detector.gradcam']({ imageId: 'img1', frame: 0, model: 'cbam256' });
    assert.equal(g.layer, 'stage4/out');
    assert.deepEqual([g.map.width, g.map.height], [16, 10]);
    await assert.rejects(service.handlers['detector.run']({ imageId: 'img1', frame: 0, model: 'absent' }), (e: unknown) => e instanceof StudioError && e.code === 'NOT_FOUND');
    await assert.rejects(service.handlers['detector.run']({ imageId: 'nope', frame: 0, model: 'nl128' }), (e: unknown) => e instanceof StudioError && e.code === 'NOT_FOUND');
    const report = await service.backendReport();
    assert.equal(report.runtime, 'tfjs');
    assert.equal(typeof report.gpu, 'boolean');
    assert.ok(report.versions['tfjs-core']);
  } finally {
    await service.close();
  }
});

test('a forced backend (settings.backend / STUDIO_BACKEND) is used, and an unknown one falls back with a note', async () => {
  const forced = new DetectorEngine({ workers: 1, backend: 'cpu', runtime: 'tfjs' });
  const odd = new DetectorEngine({ workers: 1, backend: 'quantum', runtime: 'tfjs' });
  try {
    const cpu = await forced.backend();
    assert.equal(cpu.backend, 'cpu');
    const r = await forced.detect(join(modelsDir, 'base64'), synthetic(64, 64));
    assert.deepEqual([r.heatmap.width, r.heatmap.height], [16, 16]);
    const fallback = await odd.backend();
    assert.notEqual(fallback.backend, 'quantum');
    assert.ok(fallback.notes.some((n) => /unknown backend 'quantum'/.test(n)));
  } finally {
    await Promise.all([forced.close(), odd.close()]);
  }
});
