/**
 * Names a person or a payload gives (model names, above all) never leave the folder they are joined
 * into: the contract refuses `.`, `..` and dot-names at the schema, one helper (main/fs/names.ts) refuses
 * them wherever a name is joined, and training checks the name before anything else.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StudioError, validateRequest } from '../../preload/contract.ts';
import { childPath, safeChildName } from '../../main/fs/names.ts';
import { modelDir } from '../../main/detector/io.ts';
import { TrainingManager } from '../../main/training/manager.ts';
import { EventHub } from '../../main/core/events.ts';
import { loadSettings } from '../../main/settings.ts';
import type { ServiceContext } from '../../main/core/context.ts';

const BAD = ['', '.', '..', '../x', 'a/b', 'a\\b', '/abs', 'a\0b', '.hidden'];

test('the contract refuses model names that are . or .. or start with a dot', () => {
  for (const name of ['.', '..', '.hidden', '..x']) {
    assert.equal(validateRequest('training.start', { name, data: '/d', variant: 'cbam', epochs: 1 }).ok, false, `training.start accepted '${name}'`);
    assert.equal(validateRequest('detector.run', { imageId: 'i', model: name }).ok, false, `detector.run accepted '${name}'`);
  }
  for (const name of ['m', 'kvasir-cbam_2.1', 'a..b']) assert.equal(validateRequest('training.start', { name, data: '/d', variant: 'cbam', epochs: 1 }).ok, true, name);
});

test('safeChildName and childPath refuse every name that could leave the folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'names-'));
  try {
    for (const name of BAD) {
      assert.throws(() => safeChildName(name), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD', JSON.stringify(name));
      assert.throws(() => childPath(root, name), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD', JSON.stringify(name));
      assert.throws(() => modelDir(root, name), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD', `modelDir ${JSON.stringify(name)}`);
    }
    assert.equal(childPath(root, 'model-1'), join(root, 'model-1'));
    // A child that is a link out of the folder is outside it, whatever its name says.
    symlinkSync(tmpdir(), join(root, 'out'));
    assert.throws(() => childPath(root, 'out'), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("training.start refuses a name that escapes the models folder before it looks at anything else (it wrote into the models folder's parent)", async () => {
  const home = mkdtempSync(join(tmpdir(), 'names-train-'));
  const ctx: ServiceContext = {
    settings: { ...loadSettings(), modelsDir: join(home, 'models'), homeDir: home },
    events: new EventHub(),
    shell: 'browser',
    version: 'test',
    images: { summary: () => { throw new Error('none'); }, frame: () => Promise.reject(new Error('none')) },
    log: () => {},
  };
  const manager = new TrainingManager(ctx);
  try {
    for (const name of ['..', '.', '../elsewhere']) {
      // The handler trusts the schema; the manager must not: call it directly, as a future caller might.
      const req = { name, data: join(home, 'no-such-data'), format: 'masks', variant: 'baseline', epochs: 1, batchSize: 8, inputSize: 64, learningRate: 1e-3, seed: 1, attentionWeight: 0, augmentation: 'standard' } as const;
      await assert.rejects(manager.start(req), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD' && e.subject === 'name', name);
    }
  } finally {
    void manager.close();
    rmSync(home, { recursive: true, force: true });
  }
});
