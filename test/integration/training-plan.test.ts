/**
 * A set that cannot train is refused before any work starts, with the reason: `training.start` (the panel's
 * call) and `studio train` alike, and `training.plan` / `studio plan` say beforehand what a run would use.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { StudioError, TrainingPlan } from '../../preload/contract.ts';
import type { ServiceContext } from '../../main/core/context.ts';
import { EventHub } from '../../main/core/events.ts';
import { createTrainingHandlers } from '../../main/training/handlers.ts';
import { loadSettings, PROJECT_ROOT } from '../../main/settings.ts';
import { makeDiscDataset } from './training-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'studio-plan-'));
after(() => rmSync(root, { recursive: true, force: true }));
const normal = join(root, 'normal-only');
const discs = join(root, 'discs');
const modelsDir = join(root, 'models');

before(async () => {
  // A masks folder whose every mask is empty: lesion-free images only.
  mkdirSync(join(normal, 'images'), { recursive: true });
  mkdirSync(join(normal, 'masks'), { recursive: true });
  for (let i = 0; i < 16; i++) {
    await sharp(Buffer.alloc(32 * 24 * 3, 60 + i), { raw: { width: 32, height: 24, channels: 3 } }).png().toFile(join(normal, 'images', `frame${i}.png`));
    await sharp(Buffer.alloc(32 * 24), { raw: { width: 32, height: 24, channels: 1 } }).png().toFile(join(normal, 'masks', `frame${i}.png`));
  }
  await makeDiscDataset(discs, 16);
});

function services() {
  const events: unknown[] = [];
  const hub = new EventHub();
  hub.subscribe(((name: string, payload: unknown) => events.push([name, payload])) as Parameters<EventHub['subscribe']>[0]);
  const ctx: ServiceContext = {
    settings: { ...loadSettings(), modelsDir },
    events: hub,
    shell: 'browser',
    version: 'test',
    images: { summary: () => { throw new Error('unused'); }, frame: async () => { throw new Error('unused'); } },
    log: () => {},
  };
  return { service: createTrainingHandlers(ctx), events };
}

const cli = (args: string[]) => spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), ...args], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, STUDIO_MODELS_DIR: modelsDir } });

test('training.start refuses a set with no lesion image, with the reason, and starts nothing', async () => {
  const { service, events } = services();
  try {
    const h = service.handlers;
    const request = { name: 'no-lesions', data: normal, format: 'masks', variant: 'baseline', epochs: 1, batchSize: 4, inputSize: 64, learningRate: 1e-3, seed: 42, attentionWeight: 0, augmentation: 'standard' } as const;
    await assert.rejects(h['training.start'](request), (err: StudioError) => {
      assert.equal(err.code, 'INVALID_PAYLOAD');
      assert.match(err.message, /cannot train: no image in the set has a lesion \(16 lesion-free\)/);
      return true;
    });
    assert.deepEqual(await h['training.list']({}), [], 'no run was started');
    assert.deepEqual(events, [], 'no progress was sent');
    assert.equal(existsSync(join(modelsDir, 'no-lesions')), false, 'nothing was written');

    // The panel asks the same question first, and gets the same reason with the counts.
    const plan = await h['training.plan']({ data: normal, format: 'masks', seed: 42 });
    assert.deepEqual([plan.images, plan.lesionImages, plan.negatives, plan.split.train.images], [16, 0, 16, 11]);
    assert.equal(plan.problems.length, 1);
  } finally {
    await service.close();
  }
});

test('studio train prints what it would use and exits non-zero with the reason; studio plan says the same', () => {
  const refused = cli(['train', '--data', normal, '--variant', 'baseline', '--epochs', '1', '--out', join(modelsDir, 'cli-no-lesions'), '--input-size', '64']);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /^\s+images\s+lesion images\s+lesions\s+negatives$/m);
  assert.match(refused.stderr, /^whole\s+16\s+0\s+0\s+16$/m);
  assert.match(refused.stderr, /cannot train: no image in the set has a lesion/);
  assert.equal(existsSync(join(modelsDir, 'cli-no-lesions')), false, 'nothing was written');

  const ok = cli(['plan', '--data', discs, '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const plan = JSON.parse(ok.stdout) as TrainingPlan;
  assert.deepEqual([plan.images, plan.lesionImages, plan.lesions, plan.negatives, plan.problems], [16, 16, 16, 0, []]);
  const table = cli(['plan', '--data', normal]);
  assert.equal(table.status, 1);
  assert.match(table.stdout, /^train\s+11\s+0\s+0\s+11$/m);
});
