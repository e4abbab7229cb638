/**
 * kill -9 in the middle of reviewing and in the middle of a batch recording: a child process writes to the
 * store in a hot loop and reports each write only after the call returned (so after its commit); we SIGKILL
 * it mid-stream, reopen, and check that everything it reported is there, nothing is half-written, and the
 * file passes integrity_check.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { openStore } from '../../main/review/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const storeModule = pathToFileURL(resolve(PROJECT_ROOT, 'main/review/store.ts')).href;

/**
 * Starts a .ts child under tsx; `onLine` sees each stdout line and may return true to SIGKILL it there.
 * Lines the child wrote before it died but we had not read yet still reach `onLine` (they were committed
 * too): the promise settles once the pipe is drained and the child has exited.
 */
function runChild(source: string, args: string[], onLine: (line: string) => boolean | void): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, source);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const rl = createInterface({ input: child.stdout! });
  let killed = false;
  rl.on('line', (line) => {
    if (onLine(line) && !killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  const drained = new Promise<void>((res) => rl.on('close', () => res()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  return Promise.all([exited, drained]).then(([e]) => ({ ...e, stderr }));
}

const REVIEWER_CHILD = `
import { writeSync } from 'node:fs';
import { openStore } from '${storeModule}';
const store = openStore(process.argv[2]);
const ids = (store.sql.prepare('SELECT id FROM findings ORDER BY id').all() as { id: number }[]).map((r) => r.id);
const decisions = ['accepted', 'rejected', 'edited'] as const;
for (let i = 0; ; i++) {
  const findingId = ids[i % ids.length];
  const reviewer = 'r' + (i % 3);
  const decision = decisions[i % 3];
  const box = decision === 'edited' ? ([1, 1, 10 + (i % 50), 12] as [number, number, number, number]) : undefined;
  store.decide({ findingId, reviewer, decision, box, note: '#' + i });
  if (i % 7 === 0) store.flag({ imageId: 1 + (i % 4), reviewer, flagged: i % 2 === 0, note: '#' + i });
  writeSync(1, i + ' ' + findingId + ' ' + reviewer + ' ' + decision + '\\n');
}
`;

test('kill -9 while a reviewer is deciding loses no reported decision and leaves a sound database', async () => {
  const file = join(dir, 'reviewing.sqlite');
  const seed = openStore(file);
  const run = seed.beginRun({ model: 'm', backend: 'cpu' });
  for (let i = 0; i < 4; i++) {
    seed.recordImageFindings(run, { path: `/virtual/r${i}.png`, contentHash: (i + 1).toString(16).padStart(64, '0'), width: 64, height: 64 }, Array.from({ length: 5 }, (_, j) => ({ box: [j, j, j + 20, j + 20] as [number, number, number, number], score: 0.5 + j / 20, area: 400 })));
  }
  seed.close();

  const reported: { i: number; findingId: number; reviewer: string; decision: string }[] = [];
  const started = Date.now();
  const result = await runChild(REVIEWER_CHILD, [file], (line) => {
    const [i, findingId, reviewer, decision] = line.split(' ');
    reported.push({ i: Number(i), findingId: Number(findingId), reviewer, decision });
    return reported.length >= 400 || Date.now() - started > 20_000;
  });
  reported.sort((a, b) => a.i - b.i);
  assert.equal(result.signal, 'SIGKILL', `the child was killed mid-loop, not finished: ${result.stderr}`);
  assert.ok(reported.length >= 50, `the child reported ${reported.length} decisions`);

  const store = openStore(file);
  assert.equal(store.integrityCheck(), 'ok');
  const trail = store.auditTrail().filter((e) => e.action === 'decide');
  const committed = new Set(trail.map((e) => (e.after as { note: string }).note));
  for (const r of reported) assert.ok(committed.has(`#${r.i}`), `reported decision #${r.i} is in the audit trail`);
  const lastReported = reported[reported.length - 1].i;
  assert.ok(trail.length === reported.length || trail.length === reported.length + 1, `${trail.length} decisions committed, ${reported.length} reported: at most the one in flight differs`);
  // The current state of every (finding, reviewer) is its last reported decision, or one committed after it.
  const last = new Map<string, (typeof reported)[number]>();
  for (const r of reported) last.set(`${r.findingId}/${r.reviewer}`, r);
  for (const [key, r] of last) {
    const [findingId, reviewer] = key.split('/');
    const now = store.finding(Number(findingId), reviewer);
    const noteNumber = Number(now.note?.slice(1));
    assert.ok(noteNumber === r.i || noteNumber === lastReported + 1, `${key}: stored #${noteNumber}, reported #${r.i}`);
    if (noteNumber === r.i) assert.equal(now.decision, r.decision);
  }
  store.close();
});

const BATCH_CHILD = `
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { openStore } from '${storeModule}';
const [file, total] = [process.argv[2], Number(process.argv[3])];
const store = openStore(file);
const model = 'crash-model';
const run = store.beginRun({ model, backend: 'cpu', params: { threshold: 0.5 } });
for (let i = 0; i < total; i++) {
  const path = '/virtual/batch/img' + i + '.png';
  if (store.isImageDone(path, model)) { writeSync(1, 'skip ' + i + '\\n'); continue; }
  const findings = Array.from({ length: (i % 5) + 1 }, (_, j) => ({ box: [j, j, j + 10, j + 10 + i] as [number, number, number, number], score: (j + 1) / 10, area: 100 }));
  store.recordImageFindings(run, { path, contentHash: createHash('sha256').update(path).digest('hex'), width: 64, height: 64 + i }, findings);
  writeSync(1, 'done ' + i + '\\n');
}
store.finishRun(run);
writeSync(1, 'finished\\n');
`;

function checkBatch(file: string, total: number): Set<number> {
  const store = openStore(file);
  assert.equal(store.integrityCheck(), 'ok');
  const images = store.sql.prepare('SELECT i.id, i.path, (SELECT count(*) FROM findings f WHERE f.image_id = i.id) AS n, (SELECT count(*) FROM run_images ri WHERE ri.image_id = i.id) AS marks FROM images i').all() as { id: number; path: string; n: number; marks: number }[];
  const done = new Set<number>();
  for (const img of images) {
    const i = Number(/img(\d+)\.png$/.exec(img.path)![1]);
    assert.ok(i < total);
    assert.equal(img.n, (i % 5) + 1, `${img.path}: all of its findings, none twice`);
    assert.equal(img.marks, 1, `${img.path}: exactly one done-marker`);
    done.add(i);
  }
  const orphans = store.sql.prepare('SELECT count(*) AS c FROM findings f WHERE NOT EXISTS (SELECT 1 FROM run_images ri WHERE ri.image_id = f.image_id AND ri.run_id = f.run_id)').get() as { c: number };
  assert.equal(orphans.c, 0, 'no finding without its image done-marker (no partial image)');
  store.close();
  return done;
}

test('kill -9 in a batch recording loses no finished image, leaves no partial one, and the resumed run skips the done ones', async () => {
  const file = join(dir, 'batch.sqlite');
  const total = 300;
  // Ten kills at different points, each followed by the checks, so some land inside an image's write.
  let done = new Set<number>();
  const kills = [12, 7, 20, 5, 15, 9, 25, 6, 11, 18];
  for (const after of kills) {
    const reported: number[] = [];
    const killed = await runChild(BATCH_CHILD, [file, String(total)], (line) => {
      const [what, i] = line.split(' ');
      if (what === 'done') reported.push(Number(i));
      return reported.length >= after;
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const before = done;
    done = checkBatch(file, total);
    for (const i of before) assert.ok(done.has(i), `image ${i}, done before this run, is still there`);
    for (const i of reported) assert.ok(done.has(i), `reported image ${i} is in the store`);
    assert.ok(done.size <= before.size + reported.length + 1, 'at most the image in flight is beyond what was reported');
  }

  const skipped: number[] = [];
  const recorded: number[] = [];
  const second = await runChild(BATCH_CHILD, [file, String(total)], (line) => {
    const [what, i] = line.split(' ');
    if (what === 'skip') skipped.push(Number(i));
    if (what === 'done') recorded.push(Number(i));
  });
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(skipped.sort((a, b) => a - b), [...done].sort((a, b) => a - b), 'the resumed run skipped exactly the images already done');
  assert.equal(recorded.length, total - done.size, 'and recorded each remaining one once');
  assert.equal(checkBatch(file, total).size, total);
  const store = openStore(file);
  const runs = store.runs();
  assert.equal(runs.length, kills.length + 1);
  assert.deepEqual(runs.map((r) => r.finished === null), [...kills.map(() => true), false], 'the killed runs never finished; the resumed one did');
  assert.equal(runs.reduce((sum, r) => sum + r.images, 0), total, 'each image was recorded by exactly one run');
  store.close();
});
