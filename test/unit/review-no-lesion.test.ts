/**
 * An image with no proposed finding is reviewed only when a reader says so (issue 24). Before, such an image
 * counted as reviewed by default: the worklist showed it done ("done · max 0.00"), the Pending filter hid
 * it, so a lesion the model missed was never put in front of a reader. A reader's "no lesion" decision
 * (`confirmNoLesion`, the N key) is what finishes it; on a frame of false positives it also rejects that
 * reader's undecided findings, and one undo takes all of it back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { StudioError } from '../../preload/contract.ts';
import { MIGRATIONS } from '../../main/review/schema.ts';
import { type ReviewStore, openStore } from '../../main/review/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-no-lesion-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const hash = (i: number) => i.toString(16).padStart(64, '0');

/** Image 1: no finding. Image 2: findings 1 (0.9), 2 (0.7), 3 (0.4). */
function seeded(): ReviewStore {
  const store = openStore(join(dir, `s${n++}.sqlite`));
  const run = store.beginRun({ model: 'm1', backend: 'wasm' });
  store.recordImageFindings(run, { path: '/data/empty.png', contentHash: hash(1), width: 100, height: 80 }, []);
  store.recordImageFindings(run, { path: '/data/fp.png', contentHash: hash(2), width: 100, height: 80 }, [
    { box: [10, 10, 30, 40], score: 0.9, area: 500 },
    { box: [50, 50, 60, 60], score: 0.7, area: 90 },
    { box: [70, 5, 90, 20], score: 0.4, area: 200 },
  ]);
  store.finishRun(run);
  return store;
}

const item = (store: ReviewStore, imageId: number, reviewer?: string) => store.worklist(reviewer ? { reviewer } : {}).items.find((i) => i.imageId === imageId)!;

test('an image with no proposed finding is pending in the worklist until a reader confirms it has no lesion', () => {
  const store = seeded();
  const before = store.worklist();
  assert.equal(before.reviewed, 0, 'nothing is reviewed by default');
  assert.equal(before.total, 2);
  assert.equal(item(store, 1).noLesion, false);
  assert.deepEqual(store.worklist({ status: 'pending' }).items.map((i) => i.imageId), [1, 2], 'the Pending filter shows the image with no finding');
  assert.deepEqual(store.worklist({ status: 'done' }).items, []);

  store.confirmNoLesion({ imageId: 1, reviewer: 'ann', note: 'clean mucosa' });
  assert.equal(item(store, 1).noLesion, true);
  assert.equal(store.worklist().reviewed, 1);
  assert.deepEqual(store.worklist({ status: 'pending' }).items.map((i) => i.imageId), [2]);
  assert.deepEqual(store.worklist({ status: 'done' }).items.map((i) => i.imageId), [1]);
  // In another reader's own view the image still waits for them.
  assert.equal(item(store, 1, 'bob').noLesion, false);
  assert.deepEqual(store.worklist({ reviewer: 'bob', status: 'pending' }).items.map((i) => i.imageId), [1, 2]);
  assert.equal(store.worklist({ reviewer: 'ann' }).reviewed, 1);
  store.close();
});

test('no lesion on a frame of false positives rejects that reader\'s undecided findings in one change, and one undo reverts it all', () => {
  const store = seeded();
  store.decide({ findingId: 2, reviewer: 'ann', decision: 'rejected', note: 'bubble' });
  store.decide({ findingId: 3, reviewer: 'bob', decision: 'accepted' });
  const auditBefore = store.auditTrail().length;

  const result = store.confirmNoLesion({ imageId: 2, reviewer: 'ann' });
  assert.deepEqual(result, { imageId: 2, noLesion: true, rejected: [1, 3] });
  assert.deepEqual(store.findings(2, 'ann').findings.map((f) => [f.id, f.decision]), [[1, 'rejected'], [2, 'rejected'], [3, 'rejected']]);
  assert.equal(store.finding(2, 'ann').note, 'bubble', 'an earlier decision of hers is kept as it was');
  assert.equal(store.finding(3, 'bob').decision, 'accepted', "bob's decision is his");
  assert.deepEqual(item(store, 2, 'ann'), { ...item(store, 2, 'ann'), pending: 0, rejected: 3, noLesion: true });
  const entries = store.auditTrail().slice(auditBefore);
  assert.deepEqual(entries.map((e) => [e.action, e.entity, e.entityId, e.who]), [['decide', 'image', 2, 'ann']], 'one audited change');
  assert.deepEqual((entries[0].after as { rejected: number[] }).rejected, [1, 3]);

  const undone = store.undo('ann');
  assert.deepEqual(undone, { undone: true, imageId: 2 });
  assert.deepEqual(store.findings(2, 'ann').findings.map((f) => [f.id, f.decision]), [[1, 'pending'], [2, 'rejected'], [3, 'pending']]);
  assert.equal(item(store, 2, 'ann').noLesion, false);
  assert.equal(store.finding(3, 'bob').decision, 'accepted');
  assert.deepEqual(store.auditTrail().slice(-1).map((e) => [e.action, e.entity, e.entityId]), [['undo', 'image', 2]]);
  // The next undo steps further back, to her rejection of finding 2.
  assert.equal(store.undo('ann').finding?.decision, 'pending');

  // Undo of a no-lesion decision on an image that had one before restores that one.
  store.confirmNoLesion({ imageId: 1, reviewer: 'ann', note: 'first look' });
  store.confirmNoLesion({ imageId: 1, reviewer: 'ann', note: 'second look' });
  store.undo('ann');
  assert.equal(item(store, 1, 'ann').noLesion, true);
  assert.equal(store.imageReviews().find((r) => r.image.id === 1)?.decisions[0]?.note, 'first look');
  store.undo('ann');
  assert.equal(item(store, 1, 'ann').noLesion, false);
  store.close();
});

test('no lesion is refused where the reader confirmed a lesion, and a later confirmed lesion outweighs it', () => {
  const store = seeded();
  store.decide({ findingId: 1, reviewer: 'ann', decision: 'accepted' });
  assert.throws(() => store.confirmNoLesion({ imageId: 2, reviewer: 'ann' }), (e: StudioError) => e.code === 'INVALID_PAYLOAD' && /confirmed a lesion/.test(e.message));
  store.add({ imageId: 1, reviewer: 'ann', box: [1, 1, 9, 9] });
  assert.throws(() => store.confirmNoLesion({ imageId: 1, reviewer: 'ann' }), /confirmed a lesion/);
  assert.throws(() => store.confirmNoLesion({ imageId: 99, reviewer: 'ann' }), (e: StudioError) => e.code === 'NOT_FOUND');
  assert.throws(() => store.confirmNoLesion({ imageId: 1, reviewer: 'model:x' }), (e: StudioError) => e.code === 'INVALID_PAYLOAD');
  assert.equal(store.auditTrail().filter((e) => e.entity === 'image' && e.action === 'decide').length, 0, 'a refusal writes nothing');

  // Another reader's lesion does not stop bob: he rejects it in his own view.
  store.confirmNoLesion({ imageId: 2, reviewer: 'bob' });
  assert.equal(item(store, 2, 'bob').noLesion, true);
  assert.equal(item(store, 2).noLesion, true, 'the latest decision on every finding is his rejection');
  // A lesion added after a no-lesion decision makes the image a positive: it is no longer "no lesion".
  store.add({ imageId: 2, reviewer: 'carol', box: [20, 20, 40, 40] });
  assert.equal(item(store, 2).noLesion, false);
  assert.ok(item(store, 2).added > 0);
  store.close();
});

test('a store at schema version 2 migrates to the image decisions, and a read-only open of one reads it without them', () => {
  const file = join(dir, 'v2.sqlite');
  const old = new Database(file);
  old.exec(MIGRATIONS[0]);
  old.exec(MIGRATIONS[1]);
  old.pragma('user_version = 2');
  old.prepare("INSERT INTO images (path, content_hash, width, height, created) VALUES ('/data/x.png', ?, 10, 10, 'now')").run(hash(9));
  old.close();
  const reader = openStore(file, { readonly: true });
  assert.deepEqual(reader.worklist().items.map((i) => [i.imageId, i.noLesion]), [[1, false]]);
  assert.deepEqual(reader.imageReviews().map((r) => r.decisions), [[]]);
  reader.close();
  const store = openStore(file);
  store.confirmNoLesion({ imageId: 1, reviewer: 'ann' });
  assert.equal(store.worklist().reviewed, 1);
  store.close();
});
