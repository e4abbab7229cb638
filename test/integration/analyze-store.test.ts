/**
 * `studio analyze --store FILE` as a real child process, killed with SIGKILL in the middle of a run and run
 * again: every image ends up recorded exactly once with all its findings, the second run skips what the
 * first recorded, and the findings reach the review worklist through the review handlers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../main/detector/model.ts';
import { saveModel } from '../../main/detector/io.ts';
import { PROJECT_ROOT, loadSettings } from '../../main/settings.ts';
import { createReviewHandlers } from '../../main/review/handlers.ts';
import { createBatchHandlers } from '../../main/batch/handlers.ts';
import type { BatchProgress } from '../../preload/contract.ts';
import { EventHub } from '../../main/core/events.ts';
import type { ServiceContext } from '../../main/core/context.ts';
import { type Rle, rleBox } from '../../main/review/rle.ts';

const work = mkdtempSync(join(tmpdir(), 'analyze-store-'));
after(() => rmSync(work, { recursive: true, force: true }));
const IMAGES = 14;
const STUDIO = join(PROJECT_ROOT, 'bin', 'studio.mjs');

async function fixture(): Promise<{ modelsDir: string; inputs: string }> {
  await tf.setBackend('cpu');
  tf.enableProdMode();
  const modelsDir = join(work, 'models');
  const model = buildModel({ variant: 'cbam', inputSize: 128 });
  // An untrained model predicts ≈ the prior everywhere; raise the output bias so there are findings to record.
  model.getLayer('lesion_logits').weights[1].write(tf.tensor1d([0.5]));
  await saveModel(model, join(modelsDir, 'store-test'), { name: 'store-test', variant: 'cbam', inputSize: 128 });
  const inputs = join(work, 'inputs');
  mkdirSync(inputs, { recursive: true });
  // Large enough (decode, letterbox, three full-size PNGs) that a run takes a while to kill it in the middle.
  const W = 1600;
  const H = 1200;
  for (let i = 0; i < IMAGES; i++) {
    const px = new Uint8Array(W * H * 3);
    let seed = i * 7919 + 1;
    for (let p = 0; p < px.length; p++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      px[p] = ((p % (W * 3)) / 12 + (seed >>> 27)) & 255;
    }
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(inputs, `img-${String(i).padStart(2, '0')}.jpg`));
  }
  return { modelsDir, inputs };
}

function recorded(store: string): number {
  if (!existsSync(store)) return 0;
  try {
    const db = new Database(store, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM run_images').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // created but not yet migrated
  }
}

test('analyze --store killed with SIGKILL mid-run resumes: each image recorded once, whole, and the findings reach the worklist', async () => {
  const { modelsDir, inputs } = await fixture();
  const store = join(work, 'review.sqlite');
  const args = (out: string) => [STUDIO, 'analyze', inputs, '--model', 'store-test', '--models-dir', modelsDir, '--out', out, '--workers', '1', '--store', store];

  // First run: killed (no chance to clean up) once a couple of images are recorded.
  const child = spawn(process.execPath, args(join(work, 'out-1')), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let alive = true;
  void exited.then(() => (alive = false));
  const deadline = Date.now() + 120_000;
  while (alive && recorded(store) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(alive, `the first run ended before it could be killed: ${stderr}`);
  child.kill('SIGKILL');
  await exited;
  const first = recorded(store);
  assert.ok(first >= 2 && first < IMAGES, `killed mid-run after ${first} of ${IMAGES} images`);

  // Second run: resumes.
  const rerun = spawnSync(process.execPath, args(join(work, 'out-2')), { encoding: 'utf8', timeout: 180_000 });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stdout, new RegExp(`^${first} images already in the store: skipped`, 'm'));
  assert.match(rerun.stdout, new RegExp(`${IMAGES - first} of ${IMAGES} images analysed`));
  const analysed = JSON.parse(readFileSync(join(work, 'out-2', 'findings.json'), 'utf8')) as { image: string; findings: unknown[] }[];
  assert.equal(analysed.length, IMAGES - first, 'the second run analysed only the images the first had not recorded');

  const db = new Database(store, { readonly: true });
  try {
    const runs = db.prepare('SELECT id, finished FROM model_runs ORDER BY id').all() as { id: number; finished: string | null }[];
    assert.equal(runs.length, 2);
    assert.equal(runs[0].finished, null, 'the killed run never finished');
    assert.notEqual(runs[1].finished, null);
    const images = db.prepare('SELECT id, path FROM images').all() as { id: number; path: string }[];
    assert.equal(images.length, IMAGES, 'every image recorded');
    assert.equal(new Set(images.map((i) => i.path)).size, IMAGES);
    const perImage = db.prepare('SELECT image_id, count(*) AS n, sum(findings) AS expected FROM run_images GROUP BY image_id').all() as { image_id: number; n: number; expected: number }[];
    assert.equal(perImage.length, IMAGES);
    for (const r of perImage) assert.equal(r.n, 1, `image ${r.image_id} recorded ${r.n} times`);
    // No partial image: the findings stored for each image are exactly as many as its run recorded.
    const stored = new Map((db.prepare("SELECT image_id, count(*) AS n FROM findings WHERE source = 'model' GROUP BY image_id").all() as { image_id: number; n: number }[]).map((r) => [r.image_id, r.n]));
    for (const r of perImage) assert.equal(stored.get(r.image_id) ?? 0, r.expected, `image ${r.image_id}`);
    const secondRunImages = (db.prepare('SELECT count(*) AS n FROM run_images WHERE run_id = ?').get(runs[1].id) as { n: number }).n;
    assert.equal(secondRunImages, IMAGES - first);
    for (const e of analysed) assert.ok(images.some((i) => i.path === e.image), e.image);
    // Each model finding keeps its own lesion-map component as its mask (issue 24), inside its box.
    const masks = db.prepare("SELECT x0, y0, x1, y1, mask FROM findings WHERE source = 'model'").all() as { x0: number; y0: number; x1: number; y1: number; mask: string | null }[];
    assert.ok(masks.length > 0);
    for (const f of masks) {
      assert.ok(f.mask, `finding [${f.x0}, ${f.y0}, ${f.x1}, ${f.y1}] has a mask`);
      const rle = JSON.parse(f.mask) as Rle;
      assert.deepEqual(rle.size, [1200, 1600]);
      const [mx0, my0, mx1, my1] = rleBox(rle)!;
      assert.ok(mx0 >= Math.floor(f.x0) && my0 >= Math.floor(f.y0) && mx1 <= Math.ceil(f.x1) && my1 <= Math.ceil(f.y1), `mask box ${[mx0, my0, mx1, my1]} inside [${f.x0}, ${f.y0}, ${f.x1}, ${f.y1}]`);
    }
  } finally {
    db.close();
  }

  // The review side sees the findings.
  const ctx: ServiceContext = { settings: { ...loadSettings({ STUDIO_HOME: join(work, 'home') }), modelsDir }, events: new EventHub(), shell: 'browser', version: 'test', images: { summary: () => { throw new Error('unused'); }, frame: () => Promise.reject(new Error('unused')) }, log: () => {} };
  const review = createReviewHandlers(ctx, store);
  try {
    const list = await review.handlers['review.worklist']({ status: 'all', order: 'file' });
    assert.equal(list.total, IMAGES);
    const pending = list.items.reduce((n, it) => n + it.pending, 0);
    assert.ok(pending > 0, 'the biased model should have produced findings to review');
    const item = list.items.find((it) => it.pending > 0)!;
    const detail = await review.handlers['review.findings']({ imageId: item.imageId });
    assert.equal(detail.findings.length, item.pending);
    assert.ok(detail.findings.every((f) => f.score !== undefined && f.score >= 0.5));
  } finally {
    await review.close();
  }

  // batch.start with the same store: everything is already there, so every image is skipped, none analysed.
  const seen: BatchProgress[] = [];
  ctx.events.subscribe((event, payload) => event === 'batch.progress' && seen.push({ ...(payload as BatchProgress) }));
  const batch = createBatchHandlers(ctx);
  try {
    await batch.handlers['batch.start']({ inputs: [inputs], model: 'store-test', out: join(work, 'out-3'), threshold: 0.5, store, force: false });
    const deadline2 = Date.now() + 60_000;
    while (seen.at(-1)?.state !== 'finished' && seen.at(-1)?.state !== 'failed' && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
    const last = seen.at(-1)!;
    assert.equal(last.state, 'finished', last.message);
    assert.equal(last.done, IMAGES);
    assert.match(last.message ?? '', new RegExp(`^0 analysed, ${IMAGES} already in the store`));
  } finally {
    await batch.close();
  }
  const check = new Database(store, { readonly: true });
  try {
    assert.equal((check.prepare('SELECT count(*) AS n FROM run_images').get() as { n: number }).n, IMAGES, 'nothing recorded twice');
  } finally {
    check.close();
  }
});
