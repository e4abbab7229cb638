/**
 * The browser host's gate: nothing without the token (API, static files, event socket), nothing for a
 * foreign Host or Origin (DNS rebinding, cross-site pages), typed errors for bad bodies, 413 for huge ones,
 * and a listener on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import type { Envelope } from '../../preload/contract.ts';
import { decode, encode } from '../../preload/wire.ts';
import { createHost, type Host } from '../../main/host/index.ts';
import { createServices, type Services } from '../../main/services/index.ts';

let host: Host;
let small: Host;
let services: Services;

before(async () => {
  services = createServices({ shell: 'browser', log: () => {} });
  host = await createHost({ port: 0, services, log: () => {} });
  small = await createHost({ port: 0, services, maxBody: 1024, log: () => {} });
});
after(async () => {
  await host?.close();
  await small?.close();
  await services?.close();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function request(h: Host, path: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: h.port, path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
}

const call = (h: Host, channel: string, payload: unknown, headers: Record<string, string> = { 'x-studio-token': h.token }) =>
  request(h, `/api/${channel}`, { method: 'POST', headers: { 'content-type': 'application/x-studio-wire', ...headers }, body: encode(payload) });

const envelope = (r: Reply) => decode<Envelope<unknown>>(r.body);

test('the host listens on 127.0.0.1 only, never on other interfaces', async () => {
  const address = host.server.address();
  assert.ok(address && typeof address === 'object');
  assert.equal(address.address, '127.0.0.1');
  assert.match(host.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (external) {
    const outcome = await new Promise<string>((resolve) => {
      const s = connect({ host: external.address, port: host.port });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    assert.notEqual(outcome, 'connected', `reachable on ${external.address}`);
  }
});

test('every run has its own random token', async () => {
  const other = await createHost({ port: 0, services, log: () => {} });
  try {
    assert.notEqual(other.token, host.token);
    assert.equal(Buffer.from(host.token, 'base64url').length, 32);
  } finally {
    await other.close();
  }
});

test('API calls without the token or with a wrong one get 401 and a typed UNAUTHORIZED envelope', async () => {
  for (const headers of [{}, { 'x-studio-token': 'wrong' }, { 'x-studio-token': `${host.token}x` }, { cookie: `studio_token_${host.port}=nope` }] as Record<string, string>[]) {
    const r = await call(host, 'app.info', {}, headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
    const e = envelope(r);
    assert.equal(e.ok, false);
    if (!e.ok) assert.equal(e.error.code, 'UNAUTHORIZED');
  }
  // The token in the query string is only for the entry page, not the API.
  const q = await request(host, `/api/app.info?token=${host.token}`, { method: 'POST', body: encode({}) });
  assert.equal(q.status, 401);
});

test('API calls with the token reach the services', async () => {
  const r = await call(host, 'app.info', {});
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/x-studio-wire');
  const e = envelope(r) as Envelope<{ shell: string; version: string }>;
  assert.ok(e.ok, JSON.stringify(e));
  if (e.ok) assert.equal(e.value.shell, 'browser');
});

test('static files need the token: the entry page trades ?token= for an HttpOnly SameSite=Strict cookie', async () => {
  assert.equal((await request(host, '/')).status, 401);
  assert.equal((await request(host, '/?token=wrong')).status, 401);
  assert.equal((await request(host, '/assets/whatever.js')).status, 401);
  assert.equal((await request(host, `/assets/whatever.js?token=${host.token}`)).status, 401, 'query token only on the entry page');

  const entry = await request(host, `/?token=${host.token}`);
  assert.notEqual(entry.status, 401);
  const cookie = String(entry.headers['set-cookie'] ?? '');
  assert.match(cookie, new RegExp(`^studio_token_${host.port}=${host.token};`));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const withCookie = await request(host, '/index.html', { headers: { cookie: cookie.split(';')[0] } });
  assert.notEqual(withCookie.status, 401);
});

test('every response carries the security headers', async () => {
  for (const r of [await request(host, '/'), await request(host, `/?token=${host.token}`), await call(host, 'app.info', {})]) {
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'.*script-src 'self'.*object-src 'none'.*frame-ancestors 'none'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
  }
});

test('a foreign Host header is refused (DNS rebinding), and so is a foreign Origin', async () => {
  for (const hostHeader of ['evil.example', `evil.example:${host.port}`, `127.0.0.1.evil.example:${host.port}`, `127.0.0.1:${host.port + 1}`]) {
    const r = await request(host, `/?token=${host.token}`, { headers: { host: hostHeader } });
    assert.equal(r.status, 403, `Host: ${hostHeader}`);
    const api = await call(host, 'app.info', {}, { 'x-studio-token': host.token, host: hostHeader });
    assert.equal(api.status, 403, `API with Host: ${hostHeader}`);
  }
  assert.notEqual((await request(host, `/?token=${host.token}`, { headers: { host: `localhost:${host.port}` } })).status, 403);
  const cross = await call(host, 'app.info', {}, { 'x-studio-token': host.token, origin: 'http://evil.example' });
  assert.equal(cross.status, 403);
});

test('a body that is not wire-encoded gets a typed INVALID_PAYLOAD envelope', async () => {
  const r = await request(host, '/api/imaging.frame', { method: 'POST', headers: { 'x-studio-token': host.token }, body: Buffer.from('{"id":"x"}') });
  assert.equal(r.status, 400);
  const e = envelope(r);
  assert.equal(e.ok, false);
  if (!e.ok) assert.equal(e.error.code, 'INVALID_PAYLOAD');
});

test('a payload that breaks the contract gets INVALID_PAYLOAD naming the field; an unknown channel gets UNKNOWN_CHANNEL', async () => {
  const bad = envelope(await call(host, 'imaging.frame', { id: 'a', frame: -3 }));
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.error.code, 'INVALID_PAYLOAD');
    assert.match(bad.error.message, /frame/);
  }
  const extra = envelope(await call(host, 'app.info', { sneaky: true }));
  assert.equal(extra.ok, false);
  if (!extra.ok) assert.equal(extra.error.code, 'INVALID_PAYLOAD');
  const unknown = envelope(await call(host, 'fs.readFile', { path: '/etc/passwd' }));
  assert.equal(unknown.ok, false);
  if (!unknown.ok) assert.equal(unknown.error.code, 'UNKNOWN_CHANNEL');
});

test('a body over the limit gets 413 TOO_LARGE, whether declared or streamed', async () => {
  const declared = await call(small, 'imaging.upload', { files: [{ name: 'big.dcm', bytes: new Uint8Array(4096) }] }, { 'x-studio-token': small.token });
  assert.equal(declared.status, 413);
  const e = envelope(declared);
  assert.equal(e.ok, false);
  if (!e.ok) assert.equal(e.error.code, 'TOO_LARGE');

  // Chunked, so the size is only known while reading.
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: small.port, path: '/api/imaging.upload', method: 'POST', headers: { 'x-studio-token': small.token, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(-1) : reject(err)));
    for (let i = 0; i < 8; i++) req.write(Buffer.alloc(512));
    req.end();
  });
  assert.ok(streamed === 413 || streamed === -1, `streamed oversize answered ${streamed}`);
  // The default limit is 1 GiB: a declared 2 GiB body is refused before a byte is read.
  const huge = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: host.port, path: '/api/imaging.upload', method: 'POST', headers: { 'x-studio-token': host.token, 'content-length': String(2 * 1024 ** 3) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(Buffer.alloc(16));
  });
  assert.equal(huge, 413);
});

test('static paths cannot leave the renderer folder', async () => {
  const cookie = `studio_token_${host.port}=${host.token}`;
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/%00']) {
    const r = await request(host, path, { headers: { cookie } });
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.doesNotMatch(r.body.toString(), /"name": "attention-studio"/);
  }
});

function openSocket(h: Host, path: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${path}`, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
    });
    ws.once('error', () => resolve({ status: -1 }));
  });
}

test('the event socket needs the token and a local Host', async () => {
  assert.equal((await openSocket(host, '/events')).status, 401);
  assert.equal((await openSocket(host, '/events?token=wrong')).status, 401);
  assert.equal((await openSocket(host, `/events?token=${host.token}`, { host: 'evil.example' })).status, 403);
  assert.equal((await openSocket(host, `/events?token=${host.token}`, { origin: 'http://evil.example' })).status, 403);
  assert.equal((await openSocket(host, `/nope?token=${host.token}`)).status, 404);
});

test('an authorised socket receives service events, wire-encoded', async () => {
  const { ws } = await openSocket(host, `/events?token=${host.token}`);
  assert.ok(ws, 'socket did not open');
  try {
    const got = new Promise<{ event: string; payload: { imageId: number } }>((resolve) => ws.once('message', (data: Buffer) => resolve(decode(data))));
    services.events.emit('review.changed', { imageId: 7 });
    const message = await got;
    assert.equal(message.event, 'review.changed');
    assert.deepEqual(message.payload, { imageId: 7 });
  } finally {
    ws.close();
  }
});
