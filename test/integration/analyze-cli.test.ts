/**
 * `studio analyze` end to end on real polyp images (skipped when the reference data is absent): the
 * documented files, images of the right size, and a broken file among them that is reported and skipped.
 * Also the batch.start / batch.cancel channels with their progress events.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../main/detector/model.ts';
import { saveModel } from '../../main/detector/io.ts';
import { PROJECT_ROOT, loadSettings, referenceData } from '../../main/settings.ts';
import { createBatchHandlers } from '../../main/batch/handlers.ts';
import { EventHub } from '../../main/core/events.ts';
import type { ServiceContext } from '../../main/core/context.ts';
import type { BatchProgress } from '../../preload/contract.ts';

const ref = referenceData('kvasir-seg/images');
const skip = 'skip' in ref ? ref.skip : false;
const work = mkdtempSync(join(tmpdir(), 'analyze-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function fixture(): Promise<{ modelsDir: string; inputs: string; images: string[] }> {
  await tf.setBackend('cpu');
  tf.enableProdMode();
  const modelsDir = join(work, 'models');
  const model = buildModel({ variant: 'cbam', inputSize: 128 });
  // An untrained model predicts ≈ the prior everywhere; raise the output bias so findings exist to check.
  model.getLayer('lesion_logits').weights[1].write(tf.tensor1d([0.5]));
  await saveModel(model, join(modelsDir, 'cbam-test'), { name: 'cbam-test', variant: 'cbam', inputSize: 128 });
  const inputs = join(work, 'inputs');
  mkdirSync(inputs, { recursive: true });
  const dir = (ref as { dir: string }).dir;
  const images = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().slice(0, 4);
  for (const f of images) copyFileSync(join(dir, f), join(inputs, f));
  writeFileSync(join(inputs, 'broken.jpg'), 'this is not a JPEG');
  return { modelsDir, inputs, images };
}

test('studio analyze writes findings.json, findings.csv and per-image PNGs, and skips a broken file', { skip }, async () => {
  const { modelsDir, inputs, images } = await fixture();
  const out = join(work, 'out');
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), 'analyze', inputs, '--model', 'cbam-test', '--models-dir', modelsDir, '--out', out, '--threshold', '0.5'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /4 of 5 images analysed/);
  assert.match(run.stderr, /skipped: .*broken\.jpg/);

  const entries = JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8'));
  assert.equal(entries.length, 4);
  for (const [i, e] of entries.entries()) {
    assert.equal(basename(e.image), images[i]);
    assert.equal(e.model, 'cbam-test');
    assert.equal(typeof e.backend, 'string');
    const meta = await sharp(e.image).metadata();
    assert.deepEqual([e.width, e.height], [meta.width, meta.height]);
    assert.ok(Array.isArray(e.findings));
    for (const f of e.findings) {
      const [x0, y0, x1, y1] = f.box;
      assert.ok(x0 >= 0 && y0 >= 0 && x1 <= e.width && y1 <= e.height && x1 > x0 && y1 > y0, JSON.stringify(f.box));
      assert.ok(f.score >= 0.5 && f.score <= 1);
    }
    const stem = images[i].replace(/\.jpg$/, '');
    if (e.findings.length) {
      // the heatmap PNG holds the probabilities: its peak inside the strongest box is that finding's score
      const { data } = await sharp(join(out, `${stem}.heatmap.png`)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      const [x0, y0, x1, y1] = e.findings[0].box.map(Math.round);
      let peak = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) peak = Math.max(peak, data[y * e.width + x]);
      assert.ok(Math.abs(peak - e.findings[0].score * 255) <= 8, `heatmap peak ${peak} vs score ${e.findings[0].score}`);
    }
    for (const kind of ['heatmap', 'attention', 'overlay']) {
      const png = join(out, `${stem}.${kind}.png`);
      assert.ok(existsSync(png), png);
      const m = await sharp(png).metadata();
      assert.deepEqual([m.width, m.height, m.format], [e.width, e.height, 'png'], png);
      assert.equal(m.channels, kind === 'overlay' ? 3 : 1, png);
    }
  }
  assert.ok(entries.some((e: { findings: unknown[] }) => e.findings.length > 0), 'the biased model should produce findings');
  const csv = readFileSync(join(out, 'findings.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'image,width,height,model,backend,finding,x0,y0,x1,y1,score,area,mismatch');
  const rows = entries.reduce((n: number, e: { findings: unknown[] }) => n + Math.max(1, e.findings.length), 0);
  assert.equal(csv.length - 1, rows);
  const errors = JSON.parse(readFileSync(join(out, 'errors.json'), 'utf8'));
  assert.equal(errors.length, 1);
  assert.match(errors[0].image, /broken\.jpg$/);
});

test('studio analyze with an unknown model fails clearly before doing any work', { skip }, () => {
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), 'analyze', work, '--model', 'absent', '--models-dir', join(work, 'none'), '--out', join(work, 'x')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /no model 'absent'/);
});

test('studio analyze takes a path to a model folder as its usage says, as well as a name', { skip }, async () => {
  const { modelsDir, inputs } = await fixture();
  const out = join(work, 'by-path');
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), 'analyze', inputs, '--model', join(modelsDir, 'cbam-test'), '--out', out, '--outputs', 'none'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /4 of 5 images analysed/);
  assert.equal(JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8'))[0].model, 'cbam-test');
});

test('batch.start runs the analysis with batch.progress events, and batch.cancel stops a job', { skip }, async () => {
  const modelsDir = join(work, 'models');
  if (!existsSync(join(modelsDir, 'cbam-test'))) await fixture();
  const events = new EventHub();
  const seen: BatchProgress[] = [];
  events.subscribe((event, payload) => {
    if (event === 'batch.progress') seen.push(payload as BatchProgress);
  });
  const ctx: ServiceContext = { settings: { ...loadSettings(), modelsDir }, events, shell: 'browser', version: 'test', images: { summary: () => { throw new Error('unused'); }, frame: async () => { throw new Error('unused'); } }, log: () => {} };
  const batch = createBatchHandlers(ctx);
  try {
    const out = join(work, 'batch-out');
    const { jobId } = await batch.handlers['batch.start']({ inputs: [join(work, 'inputs')], model: 'cbam-test', out, threshold: 0.5, force: false });
    await assert.rejects(batch.handlers['batch.start']({ inputs: [join(work, 'inputs')], model: 'cbam-test', out, threshold: 0.5, force: false }), /still running/);
    const final = await new Promise<BatchProgress>((resolve) => {
      const timer = setInterval(() => {
        const last = seen[seen.length - 1];
        if (last && last.state !== 'running') {
          clearInterval(timer);
          resolve(last);
        }
      }, 50);
    });
    assert.equal(final.jobId, jobId);
    assert.equal(final.state, 'finished');
    assert.equal(final.total, 5);
    assert.equal(final.done, 5);
    assert.equal(final.failed, 1);
    assert.ok(seen.some((p) => p.state === 'running' && p.done > 0 && p.done < 5), 'intermediate progress events');
    assert.equal(JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8')).length, 4);

    const second = await batch.handlers['batch.start']({ inputs: [join(work, 'inputs')], model: 'cbam-test', out: join(work, 'cancelled'), threshold: 0.5, force: false });
    const cancelled = await batch.handlers['batch.cancel']({ jobId: second.jobId });
    assert.equal(cancelled.state, 'cancelled');
    assert.ok(cancelled.done < 5);
  } finally {
    await batch.close();
  }
});
