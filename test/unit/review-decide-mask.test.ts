/**
 * A reader's own outline sent with an accept or an edit (issue 24: "a reviewer can also attach a mask while
 * accepting or editing"), and the one rule for the shape a decided finding trains as (main/review/store.ts
 * `lesionShape`): the reader's outline over the model's own, the model's own shape inside a corrected box.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StudioError } from '../../preload/contract.ts';
import { rleAreaIn, rleClip } from '../../preload/mask-box.ts';
import { type ReviewStore, type Rle, openStore } from '../../main/review/store.ts';
import { rleArea, rleBox, rleDecode, rleEncode } from '../../main/review/rle.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-decide-mask-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const W = 100, H = 80;

/** A mask of the pixels of the rectangles [x0, y0, x1, y1) (exclusive ends). */
function rects(...boxes: [number, number, number, number][]): Rle {
  const m = new Uint8Array(W * H);
  for (const [x0, y0, x1, y1] of boxes) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 1;
  return rleEncode(m, W, H);
}

/** The model's own shape of finding 1 (box [10, 10, 30, 40]): an L in its left and bottom parts. */
const MODEL_L = rects([10, 10, 16, 40], [10, 34, 30, 40]);

/** One image (100×80) with finding 1 at [10, 10, 30, 40] carrying MODEL_L, and finding 2 at [50, 50, 60, 60] with no shape. */
function seeded(): ReviewStore {
  const store = openStore(join(dir, `s${n++}.sqlite`));
  const run = store.beginRun({ model: 'm1', backend: 'wasm' });
  store.recordImageFindings(run, { path: '/data/a.png', contentHash: 'a'.repeat(64), width: W, height: H }, [
    { box: [10, 10, 30, 40], score: 0.9, area: 500, mask: MODEL_L },
    { box: [50, 50, 60, 60], score: 0.6, area: 100 },
  ]);
  return store;
}
const row = (store: ReviewStore, id: number) => store.reviewRows().find((r) => r.finding.id === id)!;
const refused = (pattern: RegExp) => (e: unknown) => e instanceof StudioError && e.code === 'INVALID_PAYLOAD' && pattern.test(e.message);

test('rleClip keeps exactly the mask pixels whose centres lie in the box, as a decode-and-crop would', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 40; trial++) {
    const m = new Uint8Array(W * H);
    // Blobs and long runs that wrap columns.
    for (let i = 0; i < m.length; i++) m[i] = rand() < (trial % 2 ? 0.5 : 0.05) ? 1 : 0;
    const rle = rleEncode(m, W, H);
    const box: [number, number, number, number] = [rand() * 60 - 5, rand() * 50 - 5, 0, 0];
    box[2] = box[0] + 1 + rand() * 60;
    box[3] = box[1] + 1 + rand() * 50;
    const want = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (m[y * W + x] && x + 0.5 >= box[0] && x + 0.5 < box[2] && y + 0.5 >= box[1] && y + 0.5 < box[3]) want[y * W + x] = 1;
    const clipped = rleClip(rle, box);
    assert.equal(clipped.counts.reduce((a, c) => a + c, 0), W * H, 'the runs cover the image');
    assert.deepEqual(rleDecode(clipped).data, want, `trial ${trial}, box ${box.map((v) => v.toFixed(2))}`);
    assert.equal(rleAreaIn(rle, box), want.reduce((a, v) => a + v, 0));
  }
  assert.equal(rleAreaIn(rects([0, 0, 10, 10]), [10, 0, 20, 10]), 0, 'touching is not overlapping');
  assert.deepEqual(rleClip(rects([0, 0, 10, 10]), [10, 0, 20, 10]), { counts: [W * H], size: [H, W] });
});

test('accepting with a mask stores the reader’s outline as the decision’s annotation: the finding, its row and the audit carry it', () => {
  const store = seeded();
  const outline = rects([12, 14, 28, 36]);
  const f = store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: outline });
  assert.equal(f.decision, 'accepted');
  assert.deepEqual(f.mask, outline);
  assert.equal(f.maskBy, 'reader');
  assert.deepEqual(f.box, [10, 10, 30, 40], 'an outline inside the box keeps the finding’s box');
  const r = row(store, 1);
  assert.deepEqual(r.effective.mask, outline, 'the reader’s outline, not the model’s L, is what trains and exports');
  assert.deepEqual(r.effective.box, [10, 10, 30, 40]);
  assert.equal(r.effective.decision, 'accepted');
  const [entry] = store.auditTrail({ who: 'ana' });
  assert.deepEqual([entry.action, (entry.after as { mask?: Rle }).mask], ['decide', outline]);
  // Another reader accepting without a mask takes the model's own shape: the outline is ana's.
  store.decide({ findingId: 1, reviewer: 'ben', decision: 'accepted' });
  assert.deepEqual(row(store, 1).effective.mask, MODEL_L);
  assert.equal(store.finding(1, 'ben').maskBy, 'model');
  assert.deepEqual(store.finding(1, 'ana').mask, outline);
  store.close();
});

test('an outline reaching outside the accepted finding’s box gives the decision the outline’s bounding box', () => {
  const store = seeded();
  const outline = rects([14, 20, 36, 44]);
  const f = store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: outline });
  assert.deepEqual(f.box, [14, 20, 36, 44]);
  assert.deepEqual(row(store, 1).effective.box, [14, 20, 36, 44]);
  assert.deepEqual(row(store, 1).finding.box, [10, 10, 30, 40], 'the proposed box stays as the model proposed it');
  store.close();
});

test('an edit with a mask and no box takes the mask’s bounding box; with a box, that box', () => {
  const store = seeded();
  const outline = rects([52, 48, 64, 58]);
  const f = store.decide({ findingId: 2, reviewer: 'ana', decision: 'edited', mask: outline, note: 'wider' });
  assert.equal(f.decision, 'edited');
  assert.deepEqual(f.box, rleBox(outline));
  assert.deepEqual(f.box, [52, 48, 64, 58]);
  assert.deepEqual(f.mask, outline);
  assert.equal(f.note, 'wider');
  assert.deepEqual(row(store, 2).effective.mask, outline);
  const both = store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', box: [8, 8, 32, 42], mask: rects([9, 9, 31, 41]) });
  assert.deepEqual(both.box, [8, 8, 32, 42]);
  assert.equal(rleArea(both.mask!), 22 * 32);
  // Moving only the box afterwards keeps the reader's outline while it still overlaps the box.
  const moved = store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', box: [9, 9, 33, 43] });
  assert.deepEqual([moved.mask, moved.maskBy], [both.mask, 'reader']);
  store.close();
});

test('a mask is refused, with its reason and nothing written, off the image’s size, outside its box, empty, or with a rejection', () => {
  const store = seeded();
  const audited = store.auditTrail().length;
  const wrongSize = { counts: [80 * 100], size: [100, 80] as [number, number] };
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: wrongSize }), refused(/does not match the image/));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: { counts: [5, 5], size: [H, W] } }), refused(/sum to 10/));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: rects([60, 60, 70, 70]) }), refused(/does not overlap the finding's box \[10, 10, 30, 40\]/));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', box: [40, 40, 50, 50], mask: rects([10, 10, 20, 20]) }), refused(/does not overlap the edited box/));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: { counts: [W * H], size: [H, W] } }), refused(/empty/));
  assert.throws(() => store.decide({ findingId: 1, reviewer: 'ana', decision: 'rejected', mask: rects([12, 12, 20, 20]) }), refused(/rejected/));
  assert.equal(store.auditTrail().length, audited, 'nothing reached the audit trail');
  assert.equal(store.finding(1).decision, 'pending');
  store.close();
});

test('an edited box with no mask trains as the model’s own shape inside it, or filled where that shape does not reach it', () => {
  const store = seeded();
  // The box takes the L's bottom bar and part of its upright.
  store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', box: [10, 30, 30, 40] });
  const clipped = row(store, 1).effective.mask!;
  assert.deepEqual(clipped, rleClip(MODEL_L, [10, 30, 30, 40]));
  assert.equal(rleArea(clipped), 6 * 4 + 20 * 6, 'the upright’s last 4 rows and the whole bar');
  assert.deepEqual(store.finding(1).mask, clipped, 'the panel shows what trains');
  assert.equal(store.finding(1).maskBy, 'model');
  // A box the L does not reach: the rectangle.
  store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', box: [18, 10, 30, 30] });
  assert.equal(row(store, 1).effective.mask, undefined);
  assert.equal(store.finding(1).mask, undefined);
  store.close();
});

test('undo takes back an accept or an edit with a mask, one at a time, to the shape before it', () => {
  const store = seeded();
  const first = rects([12, 14, 28, 36]);
  const second = rects([11, 11, 20, 30]);
  store.decide({ findingId: 1, reviewer: 'ana', decision: 'accepted', mask: first });
  store.decide({ findingId: 1, reviewer: 'ana', decision: 'edited', mask: second });
  assert.deepEqual(row(store, 1).effective.box, [11, 11, 20, 30]);
  const u1 = store.undo('ana');
  assert.deepEqual([u1.finding?.decision, u1.finding?.mask, u1.finding?.box], ['accepted', first, [10, 10, 30, 40]]);
  assert.deepEqual(row(store, 1).effective.mask, first);
  const u2 = store.undo('ana');
  assert.deepEqual([u2.finding?.decision, u2.finding?.mask, u2.finding?.maskBy], ['pending', MODEL_L, 'model']);
  assert.deepEqual(row(store, 1).effective.mask, MODEL_L);
  assert.deepEqual(store.auditTrail({ who: 'ana' }).map((e) => e.action), ['decide', 'decide', 'undo', 'undo']);
  store.close();
});
