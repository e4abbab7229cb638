import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { DetectorEngine } from '../../main/detector/engine.ts';

test('workers that cannot start fail requests with a clear error after a few backed-off tries, instead of respawning forever', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-start-'));
  const script = join(dir, 'broken-worker.mjs');
  writeFileSync(script, "throw new Error('libtensorflow is missing');\n");
  const logged: string[] = [];
  const engine = new DetectorEngine({ workers: 1, workerUrl: pathToFileURL(script), log: (l) => logged.push(l) });
  try {
    await assert.rejects(engine.backend(), /worker failed|cannot start/);
    const image = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) };
    const started = Date.now();
    // Each request fails with the cause, never hangs; within a few tries the engine stops trying.
    let last = '';
    for (let i = 0; i < 20 && !/cannot start/.test(last); i++) {
      await new Promise((r) => setTimeout(r, 250));
      last = await engine.detect(dir, image).then(
        () => 'resolved',
        (err: Error) => err.message,
      );
      assert.match(last, /libtensorflow is missing/);
    }
    assert.match(last, /cannot start \(3 tries\)/);
    assert.ok(Date.now() - started < 10_000, 'gave up within seconds');
    const spawns = logged.filter((l) => /starting a new one/.test(l)).length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(logged.filter((l) => /starting a new one/.test(l)).length, spawns, 'no more respawns once it gave up');
    assert.ok(spawns >= 1 && spawns <= 2, `respawns are bounded (${spawns})`);
    assert.ok(logged.some((l) => / in 400 ms/.test(l)), 'respawns were backed off');
    await assert.rejects(engine.detect(dir, image), /cannot start/, 'later requests fail at once');
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
