import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { StudioError } from '../../preload/contract.ts';
import { SCHEMA_VERSION } from '../../main/review/schema.ts';
import { type ReviewStore, openStore } from '../../main/review/store.ts';
import { rleArea, rleBox, rleDecode, rleEncode } from '../../main/review/rle.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const hash = (i: number) => i.toString(16).padStart(64, '0');

/** A store with one run of model m1 over two images: image 1 has findings 1 (0.9) and 2 (0.3), image 2 has finding 3 (0.6). */
function seeded(): ReviewStore {
  const store = openStore(join(dir, `s${n++}.sqlite`));
  const run = store.beginRun({ model: 'm1', backend: 'wasm', params: { threshold: 0.5 } });
  store.recordImageFindings(run, { path: '/data/a.png', contentHash: hash(1), width: 100, height: 80 }, [
    { box: [10, 10, 30, 40], score: 0.9, area: 500 },
    { box: [50, 50, 60, 60], score: 0.3, area: 90 },
  ]);
  store.recordImageFindings(run, { path: '/data/b.dcm', contentHash: hash(2), width: 64, height: 64, uids: { study: '1.2.3', series: '1.2.3.4', sop: '1.2.3.4.5' } }, [{ box: [1, 1, 5, 5], score: 0.6, area: 16 }]);
  store.finishRun(run);
  return store;
}

test('a new store is WAL with synchronous=FULL, foreign keys on and the current schema version', () => {
  const store = seeded();
  assert.equal(String(store.sql.pragma('journal_mode', { simple: true })), 'wal');
  assert.equal(Number(store.sql.pragma('synchronous', { simple: true })), 2, 'FULL is 2');
  assert.equal(Number(store.sql.pragma('foreign_keys', { simple: true })), 1);
  assert.equal(Number(store.sql.pragma('user_version', { simple: true })), SCHEMA_VERSION);
  assert.ok(Number(store.sql.pragma('busy_timeout', { simple: true })) >= 1000);
  store.close();
});

test('recording an image is idempotent per model, and isImageDone answers by path or content hash', () => {
  const store = seeded();
  assert.equal(store.isImageDone('/data/a.png', 'm1'), true);
  assert.equal(store.isImageDone(hash(2), 'm1'), true);
  assert.equal(store.isImageDone('/data/a.png', 'other-model'), false);
  assert.equal(store.isImageDone('/data/c.png', 'm1'), false);
  const run2 = store.beginRun({ model: 'm1', backend: 'wasm' });
  const again = store.recordImageFindings(run2, { path: '/data/a.png', contentHash: hash(1), width: 100, height: 80 }, [{ box: [0, 0, 1, 1], score: 1, area: 1 }]);
  assert.equal(again.skipped, true);
  assert.deepEqual(again.findingIds, [1, 2]);
  assert.equal(store.findings(again.imageId).findings.length, 2, 'no duplicated findings');
  const other = store.beginRun({ model: 'm2', backend: 'cpu' });
  assert.equal(store.recordImageFindings(other, { path: '/data/a.png', contentHash: hash(1), width: 100, height: 80 }, [{ box: [0, 0, 1, 1], score: 0.7, area: 1 }]).skipped, false, 'another model records its own findings');
  assert.equal(store.findings(1).findings.length, 3);
  store.close();
});

test('bad recordings are refused whole, before anything is written', () => {
  const store = seeded();
  const run = store.beginRun({ model: 'm3', backend: 'wasm' });
  const img = { path: '/data/z.png', contentHash: hash(9), width: 10, height: 10 };
  assert.throws(() => store.recordImageFindings(run, img, [{ box: [0, 0, 1, 1], score: 0.5, area: 1 }, { box: [5, 5, 2, 9], score: 0.5, area: 1 }]), (e: StudioError) => e.code === 'INVALID_PAYLOAD');
  assert.throws(() => store.recordImageFindings(run, { ...img, width: 0 }, []), (e: StudioError) => e.code === 'INVALID_PAYLOAD');
  assert.throws(() => store.recordImageFindings(run, { ...img, contentHash: 'not hex' }, []), (e: StudioError) => e.code === 'INVALID_PAYLOAD');
  assert.throws(() => store.recordImageFindings(999, img, []), (e: StudioError) => e.code === 'NOT_FOUND');
  assert.equal(store.isImageDone('/data/z.png', 'm3'), false);
  const rows = store.sql.prepare("SELECT count(*) AS c FROM images WHERE path = '/data/z.png'").get() as { c: number };
  assert.equal(rows.c, 0, 'no image row was left behind');
  store.close();
});

test('decisions are per reviewer; findings show the latest, the worklist counts per reviewer or overall', () => {
  const store = seeded();
  store.decide({ findingId: 1, reviewer: 'alice', decision: 'accepted' });
  const edited = store.decide({ findingId: 2, reviewer: 'alice', decision: 'edited', box: [48, 48, 62, 62], note: 'larger' });
  assert.deepEqual(edited.box, [48, 48, 62, 62]);
  assert.equal(edited.decision, 'edited');
  assert.equal(edited.note, 'larger');
  store.decide({ findingId: 1, reviewer: 'bob', decision: 'rejected' });

  const view = store.findings(1);
  assert.deepEqual(view.findings.map((f) => [f.id, f.decision, f.reviewer]), [[1, 'rejected', 'bob'], [2, 'edited', 'alice']]);

  const all = store.worklist();
  assert.equal(all.total, 2);
  assert.equal(all.reviewed, 1, 'image 1 has no pending finding; image 2 has one');
  const a = all.items.find((i) => i.imageId === 1)!;
  assert.deepEqual([a.pending, a.accepted, a.rejected, a.edited, a.disagreement], [0, 0, 1, 1, true]);
  assert.deepEqual(a.reviewers, ['alice', 'bob']);

  const bob = store.worklist({ reviewer: 'bob' });
  const b = bob.items.find((i) => i.imageId === 1)!;
  assert.deepEqual([b.pending, b.rejected], [1, 1], "for bob, finding 2 is still pending");
  assert.deepEqual(store.worklist({ status: 'pending', reviewer: 'bob' }).items.map((i) => i.imageId), [1, 2]);
  assert.deepEqual(store.worklist({ status: 'done' }).items.map((i) => i.imageId), [1]);
  assert.deepEqual(store.worklist({ disagreement: true }).items.map((i) => i.imageId), [1]);
  assert.deepEqual(store.worklist({ minScore: 0.7 }).items.map((i) => i.imageId), [1]);
  assert.deepEqual(store.worklist({ model: 'nope' }).items, []);
  assert.deepEqual(store.worklist({ model: 'm1' }).items.length, 2);
  store.flag({ imageId: 2, reviewer: 'alice', flagged: true, note: 'artefact' });
  assert.deepEqual(store.worklist({ status: 'flagged' }).items.map((i) => i.imageId), [2]);
  assert.equal(store.findings(2).note, 'artefact');
  store.close();
});

test('decide refuses a box on accept, an edit without a box, unknown findings and model: reviewer names', () => {
  const store = seeded();
  const code = (c: string) => (e: StudioError) => e instanceof StudioError && e.code === c;
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'a', decision: 'accepted', box: [0, 0, 1, 1] }), code('INVALID_PAYLOAD'));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'a', decision: 'edited' }), code('INVALID_PAYLOAD'));
  assert.throws(() => store.decide({ findingId: 99, reviewer: 'a', decision: 'accepted' }), code('NOT_FOUND'));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'model:m1', decision: 'accepted' }), code('INVALID_PAYLOAD'));
  assert.throws(() => store.add({ imageId: 1, reviewer: 'a', box: [0, 0, 5, 5], mask: { counts: [1, 2], size: [80, 100] } }), code('INVALID_PAYLOAD'), 'mask counts must cover the image');
  assert.throws(() => store.add({ imageId: 1, reviewer: 'a', box: [0, 0, 5, 5], mask: { counts: [8000], size: [100, 80] } }), code('INVALID_PAYLOAD'), 'size is [height, width]');
  assert.equal(store.auditTrail({ who: 'a' }).length, 0, 'refused changes leave no audit entry');
  store.close();
});

test('the audit trail records every change with before and after, and refuses UPDATE and DELETE', () => {
  const store = seeded();
  store.decide({ findingId: 1, reviewer: 'alice', decision: 'accepted' });
  store.decide({ findingId: 1, reviewer: 'alice', decision: 'rejected', note: 'vessel' });
  const added = store.add({ imageId: 1, reviewer: 'alice', box: [70, 5, 90, 20] });
  store.flag({ imageId: 1, reviewer: 'alice', flagged: true });
  store.undo('alice');
  const trail = store.auditTrail({ who: 'alice' });
  assert.deepEqual(trail.map((e) => e.action), ['decide', 'decide', 'add', 'flag', 'undo']);
  assert.equal(trail[0].before, null);
  assert.equal((trail[0].after as { decision: string }).decision, 'accepted');
  assert.equal((trail[1].before as { decision: string }).decision, 'accepted');
  assert.deepEqual(trail[1].after, { decision: 'rejected', annotationId: null, note: 'vessel' });
  assert.equal(trail[2].entityId, added.id);
  assert.equal(trail[4].undoes, trail[3].id);
  for (const e of trail) assert.match(e.at, /^\d{4}-\d\d-\d\dT/);
  assert.equal(store.auditTrail().filter((e) => e.action === 'record').length, 2, 'batch recordings are audited too');

  assert.throws(() => store.sql.prepare("UPDATE audit SET who = 'mallory'").run(), /append-only/);
  assert.throws(() => store.sql.prepare('DELETE FROM audit WHERE id = 1').run(), /append-only/);
  // Another connection (not the store's) is refused too: the rule lives in the database file.
  const raw = new Database(store.file);
  assert.throws(() => raw.prepare('DELETE FROM audit').run(), /append-only/);
  raw.close();
  assert.equal(store.auditTrail().length, trail.length + 2);
  store.close();
});

test('undo reverts that reviewer’s own changes one at a time, newest first, and leaves others’ alone', () => {
  const store = seeded();
  store.decide({ findingId: 1, reviewer: 'alice', decision: 'accepted' });
  store.decide({ findingId: 1, reviewer: 'bob', decision: 'rejected' });
  store.decide({ findingId: 1, reviewer: 'alice', decision: 'edited', box: [11, 11, 31, 41] });
  const added = store.add({ imageId: 1, reviewer: 'alice', box: [70, 5, 90, 20], note: 'missed' });

  assert.equal(store.undo('alice').undone, true);
  assert.ok(!store.findings(1).findings.some((f) => f.id === added.id), 'the undone addition is gone from the image');
  const u2 = store.undo('alice');
  assert.equal(u2.finding?.decision, 'accepted', 'the edit is reverted to the earlier accept');
  assert.deepEqual(u2.finding?.box, [10, 10, 30, 40]);
  assert.equal(store.undo('alice').finding?.decision, 'pending');
  assert.deepEqual(store.undo('alice'), { undone: false });
  assert.equal(store.finding(1, 'bob').decision, 'rejected', "bob's decision is untouched");
  assert.equal(store.auditTrail({ who: 'alice' }).filter((e) => e.action === 'undo').length, 3);

  store.flag({ imageId: 2, reviewer: 'bob', flagged: true, note: 'x' });
  assert.equal(store.worklist({ status: 'flagged' }).items.length, 1);
  store.undo('bob');
  assert.equal(store.worklist({ status: 'flagged' }).items.length, 0, 'undoing a flag unflags');
  store.close();
});

test('a reviewer-added lesion keeps its mask as COCO RLE, and its creator can move its box', () => {
  const store = seeded();
  const w = 100, h = 80;
  const m = new Uint8Array(w * h);
  for (let y = 20; y < 30; y++) for (let x = 60; x < 75; x++) m[y * w + x] = 1;
  const rle = rleEncode(m, w, h);
  assert.equal(rleArea(rle), 150);
  assert.deepEqual(rleBox(rle), [60, 20, 75, 30]);
  assert.deepEqual(rleDecode(rle).data, m);
  const added = store.add({ imageId: 1, reviewer: 'carol', box: [60, 20, 75, 30], mask: rle });
  assert.deepEqual(added.mask, rle);
  assert.equal(added.decision, 'added');
  const moved = store.decide({ findingId: added.id, reviewer: 'carol', decision: 'edited', box: [59, 19, 76, 31] });
  assert.equal(moved.decision, 'added', "the creator's edit keeps it an addition");
  assert.deepEqual(moved.box, [59, 19, 76, 31]);
  assert.deepEqual(moved.mask, rle);
  const peer = store.decide({ findingId: added.id, reviewer: 'dave', decision: 'accepted' });
  assert.equal(peer.decision, 'accepted');
  store.close();
});

test('opening a file that is not a store, or a newer schema, is a clear error', () => {
  const junk = join(dir, 'junk.sqlite');
  writeFileSync(junk, 'this is not a database, just text that is long enough to look like a header'.repeat(20));
  assert.throws(() => openStore(junk), (e: StudioError) => e.code === 'DECODE_FAILED' && e.message.includes(junk));
  const newer = join(dir, 'newer.sqlite');
  const db = new Database(newer);
  db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  db.close();
  assert.throws(() => openStore(newer), (e: StudioError) => e.code === 'UNSUPPORTED' && /newer/.test(e.message));
  assert.throws(() => openStore(join(dir, 'missing.sqlite'), { mustExist: true }), (e: StudioError) => e.code === 'NOT_FOUND');
});

test('a read-only open reads a store another connection is writing, and refuses to write', () => {
  const writer = seeded();
  const reader = openStore(writer.file, { readonly: true });
  assert.equal(reader.reviewRows().length, 3);
  writer.decide({ findingId: 1, reviewer: 'alice', decision: 'accepted' });
  assert.equal(reader.reviewRows().find((r) => r.finding.id === 1)?.effective.decision, 'accepted', 'the reader sees the new commit');
  assert.throws(() => reader.decide({ findingId: 2, reviewer: 'bob', decision: 'rejected' }), /readonly/i);
  reader.close();
  writer.close();
});

test('sha256File hashes a file as the store expects its content hash', async () => {
  const { sha256File } = await import('../../main/review/hash.ts');
  const file = join(dir, 'bytes.bin');
  writeFileSync(file, 'abc');
  assert.equal(await sha256File(file), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  await assert.rejects(sha256File(join(dir, 'absent.bin')), /ENOENT/);
});

test('a reviewer box outside the image is refused with its reason and writes nothing, for added and edited findings', () => {
  const store = seeded();
  const audited = store.auditTrail().length;
  const refused = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD' && /outside the 100×80 image/.test(e.message));
  refused(() => store.add({ imageId: 1, reviewer: 'ana', box: [90, 70, 120, 90] }));
  refused(() => store.add({ imageId: 1, reviewer: 'ana', box: [-5, 0, 10, 10] }));
  refused(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', box: [10, 10, 30, 400] }));
  assert.equal(store.auditTrail().length, audited, 'nothing reached the audit trail');
  assert.equal(store.findings(1).findings.length, 2, 'no finding was added');
  const edge = store.add({ imageId: 1, reviewer: 'ana', box: [0, 0, 100, 80] });
  assert.deepEqual(edge.box, [0, 0, 100, 80], 'a box on the image border is fine');
  store.close();
});

test('a run records its lesion peak and threshold per image; the worklist scores each image by them and can put the most informative pending first', () => {
  const store = openStore(join(dir, `s${n++}.sqlite`));
  const run = store.beginRun({ model: 'm1', backend: 'wasm', params: { threshold: 0.8 } });
  const img = (i: number) => ({ path: `/site/${i}.png`, contentHash: hash(100 + i), width: 20, height: 20 });
  // 1: confidently empty; 2: a peak just under the threshold; 3: a confident finding; 4: a borderline finding; 5: recorded without signals.
  store.recordImageFindings(run, img(1), [], { lesionPeak: 0.05, threshold: 0.8 });
  store.recordImageFindings(run, img(2), [], { lesionPeak: 0.76, threshold: 0.8 });
  store.recordImageFindings(run, img(3), [{ box: [1, 1, 5, 5], score: 0.99, area: 16 }], { lesionPeak: 0.99, threshold: 0.8 });
  store.recordImageFindings(run, img(4), [{ box: [1, 1, 5, 5], score: 0.99, area: 16 }, { box: [8, 8, 12, 12], score: 0.84, area: 16 }], { lesionPeak: 0.99, threshold: 0.8 });
  store.recordImageFindings(run, img(5), [{ box: [1, 1, 5, 5], score: 0.81, area: 16 }]);
  assert.deepEqual(
    store.sql.prepare('SELECT image_id, lesion_peak, threshold FROM run_images ORDER BY image_id').all().map((r) => Object.values(r as object)),
    [[1, 0.05, 0.8], [2, 0.76, 0.8], [3, 0.99, 0.8], [4, 0.99, 0.8], [5, null, null]],
  );
  const scores = store.worklist().items.map((i) => (i.informativeness === undefined ? undefined : Math.round(i.informativeness * 100) / 100));
  assert.deepEqual(scores, [0.06, 0.95, 0.05, 0.8, undefined]);
  assert.deepEqual(store.worklist().items.map((i) => i.imageId), [1, 2, 3, 4, 5], 'file order by default');
  assert.deepEqual(store.worklist({ order: 'informative' }).items.map((i) => i.imageId), [2, 4, 1, 3, 5]);
  // Reviewed images go after those still to review, in file order, however informative.
  store.decide({ findingId: 2, reviewer: 'ann', decision: 'accepted' });
  store.decide({ findingId: 3, reviewer: 'ann', decision: 'rejected' });
  store.confirmNoLesion({ imageId: 2, reviewer: 'ann' });
  assert.deepEqual(store.worklist({ order: 'informative' }).items.map((i) => i.imageId), [1, 3, 5, 2, 4]);
  assert.deepEqual(store.worklist({ order: 'informative', status: 'pending' }).items.map((i) => i.imageId), [1, 3, 5]);
  store.close();
});

test('with a model filter an image scores by that model’s runs only; without one by its most uncertain run', () => {
  const store = openStore(join(dir, `s${n++}.sqlite`));
  const a = store.beginRun({ model: 'sure', backend: 'wasm' });
  const b = store.beginRun({ model: 'unsure', backend: 'wasm' });
  const image = { path: '/site/x.png', contentHash: hash(200), width: 20, height: 20 };
  store.recordImageFindings(a, image, [{ box: [1, 1, 5, 5], score: 0.99, area: 16 }], { lesionPeak: 0.99, threshold: 0.5 });
  store.recordImageFindings(b, image, [{ box: [1, 1, 5, 5], score: 0.55, area: 16 }], { lesionPeak: 0.55, threshold: 0.5 });
  const score = (model?: string) => Math.round((store.worklist(model ? { model } : {}).items[0].informativeness ?? NaN) * 100) / 100;
  assert.equal(score('sure'), 0.02);
  assert.equal(score('unsure'), 0.9);
  assert.equal(score(), 0.9);
  store.close();
});

test('a lesion peak or threshold outside [0, 1] is refused and nothing is written', () => {
  const store = openStore(join(dir, `s${n++}.sqlite`));
  const run = store.beginRun({ model: 'm1', backend: 'wasm' });
  const image = { path: '/site/y.png', contentHash: hash(300), width: 20, height: 20 };
  for (const bad of [{ lesionPeak: 1.5, threshold: 0.5 }, { lesionPeak: 0.5, threshold: -0.1 }, { lesionPeak: Number.NaN, threshold: 0.5 }]) {
    assert.throws(() => store.recordImageFindings(run, image, [], bad), (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD');
  }
  assert.equal(store.worklist().total, 0);
  store.close();
});
