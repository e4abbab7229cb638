/**
 * `studio analyze --outputs`: which per-image files are written, with the same findings whatever is
 * written, and a clear error for an unknown kind; `--flips` overrides the card's mirror averaging.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../main/detector/model.ts';
import { saveModel } from '../../main/detector/io.ts';
import { PROJECT_ROOT } from '../../main/settings.ts';

const work = mkdtempSync(join(tmpdir(), 'analyze-outputs-'));
after(() => rmSync(work, { recursive: true, force: true }));
const modelsDir = join(work, 'models');
const inputs = join(work, 'inputs');

async function fixture(): Promise<void> {
  await tf.setBackend('cpu');
  tf.enableProdMode();
  const model = buildModel({ variant: 'cbam', inputSize: 128 });
  model.getLayer('lesion_logits').weights[1].write(tf.tensor1d([0.5])); // findings to compare
  await saveModel(model, join(modelsDir, 'outputs-test'), { name: 'outputs-test', variant: 'cbam', inputSize: 128, flips: 'h' });
  mkdirSync(inputs, { recursive: true });
  for (let i = 0; i < 3; i++) {
    const px = Uint8Array.from({ length: 300 * 200 * 3 }, (_, k) => (k * (i + 3) + (k >> 7)) & 255);
    await sharp(px, { raw: { width: 300, height: 200, channels: 3 } }).png().toFile(join(inputs, `p${i}.png`));
  }
}

function analyze(out: string, outputs?: string, extra: string[] = []) {
  const args = [join(PROJECT_ROOT, 'bin', 'studio.mjs'), 'analyze', inputs, '--model', 'outputs-test', '--models-dir', modelsDir, '--out', out, '--workers', '1', ...extra];
  if (outputs !== undefined) args.push('--outputs', outputs);
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
}

test('--outputs none writes only findings.json/.csv, a list writes only those PNGs, and the findings do not change', async () => {
  await fixture();
  const runs: Record<string, { files: string[]; entries: { image: string; findings: unknown; outputs: Record<string, string | null> }[] }> = {};
  for (const mode of ['default', 'none', 'heatmap,attention']) {
    const out = join(work, `out-${mode}`);
    const r = analyze(out, mode === 'default' ? undefined : mode);
    assert.equal(r.status, 0, r.stderr);
    runs[mode] = { files: readdirSync(out).sort(), entries: JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8')) };
  }
  const pngs = (mode: string) => runs[mode].files.filter((f) => f.endsWith('.png'));
  assert.equal(pngs('default').length, 9);
  assert.deepEqual(runs.none.files, ['errors.json', 'findings.csv', 'findings.json']);
  assert.deepEqual(pngs('heatmap,attention'), ['p0.attention.png', 'p0.heatmap.png', 'p1.attention.png', 'p1.heatmap.png', 'p2.attention.png', 'p2.heatmap.png']);
  for (const e of runs.none.entries) assert.deepEqual(e.outputs, { heatmap: null, attention: null, overlay: null });
  const strip = (mode: string) => runs[mode].entries.map((e) => [e.image, e.findings]);
  assert.deepEqual(strip('none'), strip('default'));
  assert.deepEqual(strip('heatmap,attention'), strip('default'));
  // The heatmap written on its own (one sharp pipeline) is the same as the one written beside an overlay.
  for (const f of ['p0.heatmap.png', 'p0.attention.png']) {
    const a = await sharp(join(work, 'out-default', f)).toColourspace('b-w').raw().toBuffer();
    const b = await sharp(join(work, 'out-heatmap,attention', f)).toColourspace('b-w').raw().toBuffer();
    assert.ok(a.equals(b), f);
  }
});

test('--outputs with an unknown kind fails clearly before any work', () => {
  const r = analyze(join(work, 'out-bad'), 'heatmap,masks');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--outputs takes none or a comma-separated list of heatmap, attention, overlay \(not masks\)/);
});

test("analyze averages the card's mirrored views unless --flips overrides them, and records the views per image", async () => {
  await fixture();
  const views: Record<string, { views: number; findings: unknown }[]> = {};
  for (const flips of ['card', 'none', 'hv']) {
    const out = join(work, `out-flips-${flips}`);
    const r = analyze(out, 'none', flips === 'card' ? [] : ['--flips', flips]);
    assert.equal(r.status, 0, r.stderr);
    views[flips] = JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8'));
  }
  assert.deepEqual(views.card.map((e) => e.views), [2, 2, 2], 'the card says h: 2 views');
  assert.deepEqual(views.none.map((e) => e.views), [1, 1, 1]);
  assert.deepEqual(views.hv.map((e) => e.views), [4, 4, 4]);
  const bad = analyze(join(work, 'out-flips-bad'), 'none', ['--flips', 'diagonal']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--flips must be one of none, h, hv/);
});
