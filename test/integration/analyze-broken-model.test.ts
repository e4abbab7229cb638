/**
 * A batch over a model that cannot load fails as a whole with MODEL_LOAD_FAILED, whatever the timing:
 * the failure of an image whose inference finished while later files were still being decoded must not
 * be dropped (which reported a "finished" run with those images neither analysed nor failed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { analyze } from '../../main/batch/analyze.ts';
import { StudioError } from '../../preload/contract.ts';

test('a model that cannot load fails the batch even when the failing image is not the last one decoded', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'analyze-broken-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const model = join(root, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'model.json'), '{"modelTopology": {"class_name": "Nope"}, "weightsManifest": []}');
  const inputs = join(root, 'in');
  mkdirSync(inputs);
  // One good image first, then many that fail to decode: the model fails on the good one while these decode.
  writeFileSync(join(inputs, '0000.png'), await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer());
  for (let i = 1; i <= 1500; i++) writeFileSync(join(inputs, `${String(i).padStart(4, '0')}.png`), 'not a png');
  await assert.rejects(
    analyze({ inputs: [inputs], modelDir: model, modelName: 'model', out: join(root, 'out'), workers: 1, runtime: 'tfjs', outputs: [] }),
    (err: unknown) => err instanceof StudioError && err.code === 'MODEL_LOAD_FAILED',
  );
});
