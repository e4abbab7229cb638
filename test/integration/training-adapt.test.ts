/**
 * Adapting to a site (main/training/adapt.ts) outside the host: what it refuses before any work, and that an
 * adaptation cancelled before it was judged against its base leaves no model behind (the viewer would list
 * it like any other, with nothing saying whether it is better here). The whole loop through the host is in
 * test/e2e/site-loop.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StudioError } from '../../preload/contract.ts';
import { openStore } from '../../main/review/store.ts';
import { loadSettings, referenceData } from '../../main/settings.ts';
import { adaptModel } from '../../main/training/adapt.ts';
import { planAdaptation } from '../../main/training/site.ts';
import { lesionsFromMask } from '../helpers/simulated-reader.ts';

const BASE = 'kvasir-baseline-neg';
const kvasir = referenceData('kvasir-seg');
const settings = loadSettings();
const skip = 'skip' in kvasir ? kvasir.skip : existsSync(join(settings.modelsDir, BASE, 'model.json')) ? false : `needs the shipped model ${BASE}`;
const dir = mkdtempSync(join(tmpdir(), 'training-adapt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A store of `n` Kvasir frames in sequence folders of three, each reviewed: its true lesions added with their masks. */
async function reviewedSite(file: string, n: number): Promise<void> {
  const kvasirDir = (kvasir as { dir: string }).dir;
  const ids = (JSON.parse(readFileSync(join(settings.modelsDir, BASE, 'split.json'), 'utf8')) as { test: string[] }).test.filter((id) => !id.includes('/')).slice(0, n);
  const store = openStore(file);
  try {
    const run = store.beginRun({ model: BASE, backend: 'test' });
    for (const [i, id] of ids.entries()) {
      const folder = join(dir, 'site', `seq${Math.floor(i / 3)}`);
      mkdirSync(folder, { recursive: true });
      const path = join(folder, id);
      cpSync(join(kvasirDir, 'images', id), path);
      const lesions = await lesionsFromMask(join(kvasirDir, 'masks', id.replace(/\.[^.]+$/, '.jpg')));
      const [h, w] = lesions[0].mask.size;
      const { imageId } = store.recordImageFindings(run, { path, contentHash: createHash('sha256').update(readFileSync(path)).digest('hex'), width: w, height: h }, []);
      for (const l of lesions) store.add({ imageId, reviewer: 'dr.site', box: l.box, mask: l.mask });
    }
  } finally {
    store.close();
  }
}

test('a site with too few reviewed images is refused before any training, with the reasons', { skip }, async () => {
  const store = join(dir, 'small.sqlite');
  await reviewedSite(store, 6);
  const { plan } = await planAdaptation({ store, base: join(settings.modelsDir, BASE), seed: 42, negatives: [] });
  assert.equal(plan.images, 6);
  assert.ok(plan.problems.some((p) => /at least 10/.test(p)), plan.problems.join('; '));
  const out = join(dir, 'models', 'refused');
  await assert.rejects(
    adaptModel({ name: 'refused', baseModel: BASE, epochs: 1, learningRate: 3e-4, patience: 2, seed: 42, negatives: [], out, base: join(settings.modelsDir, BASE), store }, { progress: () => {}, gate: async () => 'go' }),
    (err: unknown) => err instanceof StudioError && err.code === 'INVALID_PAYLOAD' && /at least 10/.test(err.message),
  );
  assert.equal(existsSync(out), false, 'nothing was written for a refused site');
});

test('an adaptation cancelled while it is scored against its base leaves no model behind', { skip, timeout: 300_000 }, async () => {
  const store = join(dir, 'site.sqlite');
  await reviewedSite(store, 30);
  const out = join(dir, 'models', 'cancelled');
  let scoring = false;
  await assert.rejects(
    adaptModel(
      { name: 'cancelled', baseModel: BASE, epochs: 1, learningRate: 3e-4, patience: 2, seed: 42, negatives: [], out, base: join(settings.modelsDir, BASE), store },
      {
        progress: (p) => {
          if (p.message?.startsWith('scoring')) scoring = true;
        },
        gate: async () => (scoring ? 'cancel' : 'go'),
      },
    ),
    (err: unknown) => err instanceof StudioError && err.code === 'CANCELLED',
  );
  assert.ok(scoring, 'the run reached the scoring');
  assert.equal(existsSync(out), false, 'the unjudged model was removed');
});
