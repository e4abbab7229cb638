/**
 * A batch process records findings into the store while this process (the studio) reads the worklist and
 * writes decisions into the same file: WAL lets the reader see consistent snapshots, and BEGIN IMMEDIATE +
 * busy_timeout lets the two writers take turns instead of failing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { openStore } from '../../main/review/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-conc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WRITER = `
import { writeSync } from 'node:fs';
import { openStore } from '${pathToFileURL(resolve(PROJECT_ROOT, 'main/review/store.ts')).href}';
const [file, total] = [process.argv[2], Number(process.argv[3])];
const store = openStore(file);
const run = store.beginRun({ model: 'conc', backend: 'cpu' });
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < total; i++) {
  // Stands in for inference time between images, as a real batch has.
  Atomics.wait(pause, 0, 0, 3);
  const path = '/virtual/conc/img' + i + '.png';
  store.recordImageFindings(run, { path, contentHash: (i + 1).toString(16).padStart(64, '0'), width: 32, height: 32 },
    Array.from({ length: (i % 4) + 1 }, (_, j) => ({ box: [j, j, j + 8, j + 8] as [number, number, number, number], score: 0.9 - j / 10, area: 64 })));
}
store.finishRun(run);
writeSync(1, 'finished\\n');
`;

test('a batch writer in another process and the studio reading and deciding work on one store at once', async (t) => {
  const file = join(dir, 'shared.sqlite');
  openStore(file).close();
  const childFile = join(dir, 'writer.ts');
  writeFileSync(childFile, WRITER);
  const total = 300;
  const child = spawn(process.execPath, ['--import', 'tsx', childFile, file, String(total)], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let running = true;
  void exited.then(() => (running = false));

  const ui = openStore(file);
  let reads = 0;
  let readsWhileWriting = 0;
  let decided = 0;
  let lastTotal = 0;
  const decidedIds: number[] = [];
  while (running) {
    const list = ui.worklist({ status: 'all' });
    reads++;
    if (list.total > 0 && list.total < total) readsWhileWriting++;
    assert.ok(list.total >= lastTotal, 'the worklist never shrinks while the batch adds images');
    lastTotal = list.total;
    for (const item of list.items) {
      const i = Number(/img(\d+)\.png$/.exec(item.path)![1]);
      assert.equal(item.pending + item.accepted + item.rejected + item.edited, (i % 4) + 1, `${item.name}: a reader never sees a partly recorded image`);
    }
    const next = list.items.find((it) => it.pending > 0);
    if (next) {
      const f = ui.findings(next.imageId).findings.find((x) => x.decision === 'pending')!;
      ui.decide({ findingId: f.id, reviewer: 'ui', decision: decided % 2 ? 'rejected' : 'accepted' });
      decidedIds.push(f.id);
      decided++;
    }
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(await exited, 0, `the batch writer finished without a BUSY error: ${stderr}`);
  t.diagnostic(`${reads} worklist reads (${readsWhileWriting} while the batch wrote) and ${decided} decisions while the batch wrote ${total} images`);
  assert.ok(readsWhileWriting > 5 && decided > 0, `${readsWhileWriting} reads and ${decided} decisions happened while the batch was writing`);

  const final = ui.worklist();
  assert.equal(final.total, total);
  const counts = ui.sql.prepare('SELECT count(*) AS c FROM findings').get() as { c: number };
  assert.equal(counts.c, Array.from({ length: total }, (_, i) => (i % 4) + 1).reduce((a, b) => a + b, 0));
  for (const id of decidedIds) assert.notEqual(ui.finding(id, 'ui').decision, 'pending', `decision on finding ${id} kept`);
  assert.equal(ui.integrityCheck(), 'ok');
  ui.close();
});
