import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ModelCache } from '../../main/detector/model-cache.ts';

const root = mkdtempSync(join(tmpdir(), 'model-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

function modelDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), '{}');
  return dir;
}

test('a worker keeps at most its capacity of models loaded, releasing the least recently used, and reloads a model saved again', async () => {
  const disposed: string[] = [];
  let loads = 0;
  const cache = new ModelCache(
    async (dir) => {
      loads++;
      return { dir, dispose: () => void disposed.push(dir) };
    },
    () => false,
    2,
  );
  const [a, b, c] = ['a', 'b', 'c'].map(modelDir);
  await cache.get(a);
  await cache.get(b);
  await cache.get(a); // a is now the most recently used
  await cache.get(c);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(disposed, [b], 'b, the least recently used, is released');
  assert.deepEqual(cache.loaded(), [a, c]);
  assert.equal(loads, 3);
  await cache.get(a);
  assert.equal(loads, 3, 'a stays loaded');
  // Saved again (io.ts writes by rename: a new file), even within the same mtime tick: loaded afresh.
  writeFileSync(join(a, 'model.json.tmp'), '{"v":2}');
  renameSync(join(a, 'model.json.tmp'), join(a, 'model.json'));
  await cache.get(a);
  await new Promise((r) => setImmediate(r));
  assert.equal(loads, 4);
  assert.ok(disposed.includes(a), 'the old a released');
  await cache.clear();
  assert.deepEqual(cache.loaded(), []);
});
