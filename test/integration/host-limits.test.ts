/**
 * What the browser host takes and where its callers may reach (issue 25, items 5 and 7):
 * - bodies: a limit per channel, refused from the declared size before a byte is read, chunked bodies cut
 *   off as they pass it, and a bound on large uploads at once (503 with Retry-After), given back after;
 * - paths: every path a payload names must lie in an allowed folder (STUDIO_HOME, models, reference data,
 *   what the user added), links out of one included; otherwise FORBIDDEN naming the path and the remedy.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Envelope, OpenResult } from '../../preload/contract.ts';
import { decode, encode } from '../../preload/wire.ts';
import { createHost, type Host } from '../../main/host/index.ts';
import { createServices, type Services } from '../../main/services/index.ts';
import { listImageFiles } from '../../main/imaging/files.ts';
import { openStore } from '../../main/review/store.ts';
import { loadSettings } from '../../main/settings.ts';
import { phantom, writeDicom } from '../e2e/dicom-fixture.ts';

let dir: string;
let host: Host;
let services: Services;
const MiB = 1024 ** 2;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'host-limits-'));
  for (const d of ['home', 'models', 'opened', 'outside', 'opened/sub']) mkdirSync(join(dir, d), { recursive: true });
  const dicom = writeDicom({ rows: 16, columns: 16, pixels: phantom(16, 16).pixels });
  writeFileSync(join(dir, 'opened', 'a.dcm'), dicom);
  writeFileSync(join(dir, 'outside', 'secret.dcm'), dicom);
  // A link inside an allowed folder that leads out of it.
  symlinkSync(join(dir, 'outside'), join(dir, 'opened', 'sub', 'escape'));
  symlinkSync(join(dir, 'outside', 'secret.dcm'), join(dir, 'opened', 'linked.dcm'));
  services = createServices({ shell: 'browser', settings: { ...loadSettings(), dataDir: undefined, homeDir: join(dir, 'home'), modelsDir: join(dir, 'models'), allowedDirs: [] }, log: () => {} });
  host = await createHost({ port: 0, services, allow: [join(dir, 'opened')], log: () => {} });
});
after(async () => {
  await host?.close();
  await services?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Sends the headers (and `body`, if any) but does not end the request unless `end`; resolves on the response or a reset. */
function send(channel: string, headers: Record<string, string>, body?: Uint8Array, end = true): { req: ClientRequest; reply: Promise<Reply | 'reset'> } {
  let req!: ClientRequest;
  const reply = new Promise<Reply | 'reset'>((resolve) => {
    req = httpRequest({ host: '127.0.0.1', port: host.port, path: `/api/${channel}`, method: 'POST', headers: { 'x-studio-token': host.token, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve('reset'));
    });
    req.on('error', () => resolve('reset'));
    if (body) req.write(body);
    else req.flushHeaders();
    if (end) req.end();
  });
  return { req, reply };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);

async function call<T>(channel: string, payload: unknown): Promise<Envelope<T>> {
  const body = encode(payload);
  const r = await send(channel, { 'content-length': String(body.byteLength) }, body).reply;
  assert.notEqual(r, 'reset');
  return decode<Envelope<T>>((r as Reply).body);
}

test('a small channel refuses a declared body over its few-KB limit at once, before reading it', async () => {
  // 200 KB declared, nothing sent: the old host waited for the body (its limit was 1 GiB on every channel).
  const { req, reply } = send('app.info', { 'content-length': String(200 * 1024) }, undefined, false);
  const r = await within(reply, 3000, 'declared 200 KB on app.info');
  req.destroy();
  assert.notEqual(r, 'reset');
  assert.equal((r as Reply).status, 413);
  const e = decode<Envelope<unknown>>((r as Reply).body);
  assert.ok(!e.ok && e.error.code === 'TOO_LARGE', JSON.stringify(e));
});

test('a chunked body is cut off as soon as it passes its channel limit', async () => {
  const { req, reply } = send('review.flag', { 'transfer-encoding': 'chunked' }, undefined, false);
  // 256 KB of chunks, the channel's limit is 64 KiB; never ended: the host must answer on its own.
  for (let i = 0; i < 4; i++) req.write(Buffer.alloc(64 * 1024, 1));
  const r = await within(reply, 3000, 'chunked 256 KB on review.flag');
  req.destroy();
  assert.ok(r === 'reset' || r.status === 413, `answered ${r === 'reset' ? r : r.status}`);
  assert.deepEqual(host.uploads(), { bodies: 0, bytes: 0, smallBytes: 0 });
});

test('large uploads beyond the budget get 503 with Retry-After, and the budget comes back when one ends', async () => {
  // Two 700 MiB uploads at once would hold 1.4 GiB; the first is taken (and kept open), the second refused.
  const first = send('imaging.upload', { 'content-length': String(700 * MiB) }, Buffer.alloc(1024), false);
  await within(
    (async () => {
      while (host.uploads().bodies === 0) await new Promise((r) => setTimeout(r, 20));
    })(),
    3000,
    'first upload reserved',
  );
  const second = send('imaging.upload', { 'content-length': String(700 * MiB) }, Buffer.alloc(1024), false);
  const r = await within(second.reply, 3000, 'second 700 MiB upload');
  second.req.destroy();
  assert.notEqual(r, 'reset');
  assert.equal((r as Reply).status, 503);
  assert.ok(Number((r as Reply).headers['retry-after']) > 0, 'Retry-After');
  const e = decode<Envelope<unknown>>((r as Reply).body);
  assert.ok(!e.ok && e.error.code === 'BUSY', JSON.stringify(e));

  first.req.destroy();
  await within(
    (async () => {
      while (host.uploads().bodies !== 0) await new Promise((r) => setTimeout(r, 20));
    })(),
    3000,
    'budget given back after the first upload was abandoned',
  );
  assert.deepEqual(host.uploads(), { bodies: 0, bytes: 0, smallBytes: 0 });
  // And a large body is taken again afterwards (read whole, then refused as not wire-encoded: imaging is not this test's business).
  const again = await send('imaging.upload', { 'content-length': String(2 * MiB) }, Buffer.alloc(2 * MiB, 0xff)).reply;
  assert.notEqual(again, 'reset');
  assert.equal((again as Reply).status, 400);
  assert.deepEqual(host.uploads(), { bodies: 0, bytes: 0, smallBytes: 0 });
});

test('many small bodies held open at once are counted too: past their budget the next gets 503, and the budget comes back', async () => {
  // 2,500 held bodies of 1 MiB each took the host to 1.5 GB when only large ones were counted.
  const small = await createHost({ port: 0, services, allow: [join(dir, 'opened')], smallBodiesBudget: 4 * MiB, log: () => {} });
  try {
    const sendTo = () => {
      const req = httpRequest({ host: '127.0.0.1', port: small.port, method: 'POST', path: '/api/review.add', headers: { 'x-studio-token': small.token, 'content-length': String(MiB) } });
      const reply = new Promise<number | 'reset'>((resolve) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve('reset'));
      });
      req.write(Buffer.alloc(1024));
      return { req, reply };
    };
    const held = Array.from({ length: 4 }, () => sendTo());
    await within(
      (async () => {
        while (small.uploads().smallBytes < 4 * MiB) await new Promise((r) => setTimeout(r, 20));
      })(),
      3000,
      'four small bodies held',
    );
    const fifth = sendTo();
    assert.equal(await within(fifth.reply, 3000, 'fifth small body'), 503);
    fifth.req.destroy();
    for (const h of held) h.req.destroy();
    await within(
      (async () => {
        while (small.uploads().smallBytes !== 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      3000,
      'small budget given back',
    );
  } finally {
    await small.close();
  }
});

test('imaging.open outside the allowed folders is FORBIDDEN, naming the path and how to allow it', async () => {
  for (const path of ['/etc', join(dir, 'outside', 'secret.dcm'), join(dir, 'opened', '..', 'outside'), join(dir, 'opened', 'sub', 'escape', 'secret.dcm')]) {
    const e = await call<OpenResult>('imaging.open', { paths: [path] });
    assert.equal(e.ok, false, `${path} opened`);
    if (!e.ok) {
      assert.equal(e.error.code, 'FORBIDDEN', path);
      assert.match(e.error.message, /STUDIO_ALLOWED_DIRS/);
      assert.ok(e.error.message.includes(path.includes('..') ? join(dir, 'outside') : path.split('/escape')[0]), e.error.message);
    }
  }
});

test('imaging.open inside an allowed folder opens its images, but not what a link inside it points to outside', async () => {
  const e = await call<OpenResult>('imaging.open', { paths: [join(dir, 'opened')] });
  assert.ok(e.ok, JSON.stringify(e));
  if (!e.ok) return;
  // a.dcm is reached (opened, or refused by the decoder: that is imaging's business, not the allowlist's) …
  const reached = [...e.value.images.map((i) => i.path ?? i.name), ...e.value.errors.filter((x) => !/outside the allowed folders/.test(x.message)).map((x) => x.file)];
  assert.deepEqual(reached, [join(dir, 'opened', 'a.dcm')]);
  // … and nothing outside is, by any name.
  assert.ok(!e.value.images.some((i) => /secret/.test(i.path ?? '')), JSON.stringify(e.value.images.map((i) => i.path)));
  assert.ok(e.value.errors.some((x) => /outside the allowed folders/.test(x.message) && x.file.endsWith('linked.dcm')), JSON.stringify(e.value.errors));
  assert.ok(e.value.errors.some((x) => /outside the allowed folders/.test(x.message) && x.file.endsWith('escape')), JSON.stringify(e.value.errors));
});

test('batch.start may not write its results or review store outside the allowed folders', async () => {
  const base = { inputs: [join(dir, 'opened')], model: 'm', out: join(dir, 'home', 'out') };
  for (const payload of [{ ...base, out: join(dir, 'outside', 'out') }, { ...base, out: '/tmp/studio-anywhere' }, { ...base, store: join(dir, 'outside', 'review.sqlite') }, { ...base, inputs: [join(dir, 'outside')] }]) {
    const e = await call('batch.start', payload);
    assert.equal(e.ok, false, JSON.stringify(payload));
    if (!e.ok) assert.equal(e.error.code, 'FORBIDDEN', e.error.message);
  }
  // Inside the allowed folders the request reaches the service (which has no model 'm').
  const inside = await call('batch.start', base);
  assert.ok(!inside.ok && inside.error.code === 'NOT_FOUND', JSON.stringify(inside));
});

test('training and evaluation read datasets only from allowed folders', async () => {
  for (const [channel, payload] of [
    ['training.start', { name: 'x', data: join(dir, 'outside'), variant: 'baseline', epochs: 1 }],
    ['evaluation.compare', { models: ['m'], data: join(dir, 'outside') }],
    ['evaluation.sample', { data: join(dir, 'outside'), id: 'a.png' }],
  ] as const) {
    const e = await call(channel, payload);
    assert.ok(!e.ok && e.error.code === 'FORBIDDEN', `${channel}: ${JSON.stringify(e)}`);
  }
});

test('a dataset in an allowed folder that names an image outside does not open it: samples are granted only inside their dataset\'s folder', async () => {
  // A review store written into an allowed folder, whose one reviewed image lies outside every allowed folder.
  const storeFile = join(dir, 'opened', 'planted.sqlite');
  const store = openStore(storeFile);
  const run = store.beginRun({ model: 'm', backend: 'wasm' });
  const secret = join(dir, 'outside', 'secret.dcm');
  const { findingIds } = store.recordImageFindings(run, { path: secret, contentHash: 'c'.repeat(64), width: 16, height: 16 }, [{ box: [1, 1, 8, 8], score: 0.9, area: 49 }]);
  store.decide({ findingId: findingIds[0], reviewer: 'x', decision: 'accepted' });
  store.close();
  const sample = await call<{ path: string }>('evaluation.sample', { data: storeFile, id: secret, format: 'review' });
  assert.ok(sample.ok, JSON.stringify(sample));
  const opened = await call<OpenResult>('imaging.open', { paths: [secret] });
  assert.ok(!opened.ok && opened.error.code === 'FORBIDDEN', JSON.stringify(opened));
  // A sample inside its dataset's folder still opens after it was listed.
  const inside = await call<OpenResult>('imaging.open', { paths: [join(dir, 'opened', 'a.dcm')] });
  assert.ok(inside.ok, JSON.stringify(inside));
});

test('the folder walk stops at its depth and entry caps, saying so', async () => {
  const deep = join(dir, 'opened', 'deep');
  let d = deep;
  for (let i = 0; i < 6; i++) d = join(d, `l${i}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'b.png'), 'x');
  const shallow = await listImageFiles([deep], { maxDepth: 3 });
  assert.equal(shallow.files.length, 0);
  assert.ok(shallow.errors.some((e) => /nested more than 3 deep/.test(e.message)), JSON.stringify(shallow.errors));
  const few = await listImageFiles([join(dir, 'opened')], { maxEntries: 2 });
  assert.ok(few.errors.some((e) => /stopped after looking at 2 folder entries/.test(e.message)), JSON.stringify(few.errors));
  const all = await listImageFiles([deep]);
  assert.equal(all.files.length, 1);
});
