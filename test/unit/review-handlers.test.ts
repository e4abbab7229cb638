import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Events } from '../../preload/contract.ts';
import { createDispatch } from '../../main/services/dispatch.ts';
import { EventHub } from '../../main/core/events.ts';
import type { ServiceContext } from '../../main/core/context.ts';
import { loadSettings } from '../../main/settings.ts';
import { createReviewHandlers } from '../../main/review/handlers.ts';
import { openStore } from '../../main/review/store.ts';
import type { Handlers } from '../../preload/contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-handlers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function context(home: string): { ctx: ServiceContext; events: { name: string; payload: Events['review.changed'] }[] } {
  const hub = new EventHub();
  const events: { name: string; payload: Events['review.changed'] }[] = [];
  hub.subscribe((name, payload) => events.push({ name, payload: payload as Events['review.changed'] }));
  const ctx: ServiceContext = {
    settings: loadSettings({ STUDIO_HOME: home }),
    events: hub,
    shell: 'browser',
    version: 'test',
    images: { summary: () => { throw new Error('unused'); }, frame: () => Promise.reject(new Error('unused')) },
    log: () => {},
  };
  return { ctx, events };
}

/** The review handlers behind the contract's dispatch, on a store under `home`. */
function served(home: string) {
  const { ctx, events } = context(home);
  const service = createReviewHandlers(ctx);
  return { events, service, dispatch: createDispatch(service.handlers as unknown as Handlers) };
}

test('the review handlers open <homeDir>/review.sqlite lazily and emit review.changed on every change', async () => {
  const home = join(dir, 'home');
  const { ctx, events } = context(home);
  const service = createReviewHandlers(ctx);
  assert.equal(existsSync(join(home, 'review.sqlite')), false, 'nothing is created before the first call');
  const dispatch = createDispatch(service.handlers as unknown as Handlers);
  const empty = await dispatch('review.worklist', {});
  assert.deepEqual(empty, { ok: true, value: { items: [], total: 0, reviewed: 0 } });
  assert.equal(existsSync(join(home, 'review.sqlite')), true);

  // A batch process (another connection) records findings while the studio has the store open.
  const batch = openStore(join(home, 'review.sqlite'));
  const run = batch.beginRun({ model: 'm', backend: 'wasm' });
  const { imageId, findingIds } = batch.recordImageFindings(run, { path: join(dir, 'x.png'), contentHash: 'f'.repeat(64), width: 50, height: 40 }, [{ box: [1, 2, 10, 12], score: 0.8, area: 90 }]);
  batch.close();

  const list = await dispatch('review.worklist', { status: 'pending' });
  assert.ok(list.ok);
  if (list.ok) assert.deepEqual((list.value as { items: { imageId: number }[] }).items.map((i) => i.imageId), [imageId]);
  const decided = await dispatch('review.decide', { findingId: findingIds[0], reviewer: 'ann', decision: 'accepted' });
  assert.ok(decided.ok);
  const added = await dispatch('review.add', { imageId, reviewer: 'ann', box: [20, 20, 30, 30] });
  assert.ok(added.ok);
  assert.ok((await dispatch('review.flag', { imageId, reviewer: 'ann', flagged: true })).ok);
  const undo = await dispatch('review.undo', { reviewer: 'ann' });
  assert.deepEqual(undo, { ok: true, value: { undone: true } });
  assert.deepEqual(events.map((e) => [e.name, e.payload.imageId]), [['review.changed', imageId], ['review.changed', imageId], ['review.changed', imageId], ['review.changed', imageId]]);

  const findings = await dispatch('review.findings', { imageId });
  assert.ok(findings.ok);
  if (findings.ok) assert.deepEqual((findings.value as { findings: { decision: string }[] }).findings.map((f) => f.decision), ['accepted', 'added']);
  const missing = await dispatch('review.findings', { imageId: 999 });
  assert.equal(!missing.ok && missing.error.code, 'NOT_FOUND');
  await service.close();
});

test('a store that cannot open is a clear error on each call, not a crash', async () => {
  const home = join(dir, 'broken');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'review.sqlite'), 'garbage '.repeat(200));
  const { service, dispatch } = served(home);
  for (let i = 0; i < 2; i++) {
    const r = await dispatch('review.worklist', {});
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, 'DECODE_FAILED');
      assert.match(r.error.message, /review\.sqlite is not a SQLite database/);
    }
  }
  await service.close();
});

test('review.noLesion checks its payload, confirms an image with no finding, emits review.changed, and undo takes it back', async () => {
  const home = join(dir, 'no-lesion');
  const { events, service, dispatch } = served(home);
  const batch = openStore(join(home, 'review.sqlite'));
  const run = batch.beginRun({ model: 'm', backend: 'wasm' });
  const { imageId } = batch.recordImageFindings(run, { path: join(dir, 'clean.png'), contentHash: 'e'.repeat(64), width: 50, height: 40 }, []);
  batch.close();

  const waiting = await dispatch('review.worklist', { status: 'pending' });
  assert.ok(waiting.ok && (waiting.value as { items: { imageId: number; noLesion: boolean }[] }).items.some((i) => i.imageId === imageId && !i.noLesion), 'an image with no finding waits for a reader');
  const bad = await dispatch('review.noLesion', { imageId, reviewer: 'ann', decision: 'no-lesion' });
  assert.equal(!bad.ok && bad.error.code, 'INVALID_PAYLOAD');
  const missing = await dispatch('review.noLesion', { imageId: 999, reviewer: 'ann' });
  assert.equal(!missing.ok && missing.error.code, 'NOT_FOUND');
  const ok = await dispatch('review.noLesion', { imageId, reviewer: 'ann', note: 'clean' });
  assert.deepEqual(ok, { ok: true, value: { imageId, noLesion: true, rejected: [] } });
  assert.deepEqual(events.map((e) => [e.name, e.payload.imageId]), [['review.changed', imageId]]);
  const list = await dispatch('review.worklist', {});
  assert.ok(list.ok);
  if (list.ok) {
    const value = list.value as { items: { imageId: number; noLesion: boolean }[]; reviewed: number };
    assert.deepEqual(value.items.map((i) => [i.imageId, i.noLesion]), [[imageId, true]]);
    assert.equal(value.reviewed, 1);
  }
  const view = await dispatch('review.findings', { imageId });
  assert.ok(view.ok && (view.value as { noLesion: string[] }).noLesion.join() === 'ann');
  assert.deepEqual(await dispatch('review.undo', { reviewer: 'ann' }), { ok: true, value: { undone: true } });
  const after = await dispatch('review.worklist', { status: 'pending' });
  assert.ok(after.ok && (after.value as { items: unknown[] }).items.length === 1);
  await service.close();
});

test('review.decide carries a reader’s mask through the contract, and refuses a malformed or misplaced one with INVALID_PAYLOAD', async () => {
  const home = join(dir, 'decide-mask');
  const { events, service, dispatch } = served(home);
  const batch = openStore(join(home, 'review.sqlite'));
  const run = batch.beginRun({ model: 'm', backend: 'wasm' });
  const { imageId, findingIds } = batch.recordImageFindings(run, { path: join(dir, 'm.png'), contentHash: 'd'.repeat(64), width: 50, height: 40 }, [{ box: [10, 10, 20, 20], score: 0.8, area: 100 }]);
  batch.close();
  // Column-major runs over 40 rows: columns 0–11 empty, then rows 12–17 of column 12 (inside the box).
  const inside = { counts: [12 * 40 + 12, 6, 50 * 40 - 12 * 40 - 18], size: [40, 50] };
  const outside = { counts: [40 * 40, 6, 50 * 40 - 40 * 40 - 6], size: [40, 50] };
  const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code);
  assert.equal(code(await dispatch('review.decide', { findingId: findingIds[0], reviewer: 'ann', decision: 'accepted', mask: { counts: [-1], size: [40, 50] } })), 'INVALID_PAYLOAD', 'the schema refuses a negative run');
  assert.equal(code(await dispatch('review.decide', { findingId: findingIds[0], reviewer: 'ann', decision: 'accepted', mask: outside })), 'INVALID_PAYLOAD', 'the store refuses an outline off the box');
  assert.equal(code(await dispatch('review.decide', { findingId: findingIds[0], reviewer: 'ann', decision: 'accepted', mask: { ...inside, size: [50, 40] } })), 'INVALID_PAYLOAD', 'and one of another size');
  const decided = await dispatch('review.decide', { findingId: findingIds[0], reviewer: 'ann', decision: 'accepted', mask: inside });
  assert.ok(decided.ok);
  if (decided.ok) assert.deepEqual([(decided.value as { mask?: unknown }).mask, (decided.value as { maskBy?: string }).maskBy], [inside, 'reader']);
  assert.deepEqual(events.map((e) => [e.name, e.payload.imageId]), [['review.changed', imageId]], 'only the stored decision is announced');
  await service.close();
});
