/**
 * The browser host: the built renderer and the contract over HTTP and a WebSocket, on 127.0.0.1 only.
 *
 * `POST /api/<channel>` takes a wire-encoded payload (preload/wire.ts) and answers the wire-encoded
 * Envelope from the same `dispatch` Electron's IPC uses. `GET /events` upgrades to a WebSocket that pushes
 * `{event, payload}`, wire-encoded. Every request and socket must carry the per-run token (header, the
 * cookie the entry page sets, or `?token=` on the entry page and the socket); anything else gets 401.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Envelope, StudioErrorShape } from '../../preload/contract.ts';
import { decode, encode } from '../../preload/wire.ts';
import type { Services } from '../services/index.ts';
import { PROJECT_ROOT, type Settings, loadSettings } from '../settings.ts';
import { BODY_IDLE_MS, COLLECT_AFTER_BYTES, LARGE_BODY, RETRY_AFTER_S, UPLOAD_MAX_BODY, UploadGate, bodyLimit, collectSoon } from './limits.ts';
import { FolderAllowlist, guardDispatch } from './paths.ts';
import { cookieName, hostAllowed, newToken, originAllowed, securityHeaders, tokenSource } from './security.ts';
import { serveFile } from './static.ts';

/** The most any channel takes (imaging.upload's limit); the others take far less (limits.ts). */
export const DEFAULT_MAX_BODY = UPLOAD_MAX_BODY;
export const WIRE_TYPE = 'application/x-studio-wire';

export interface HostOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  services: Pick<Services, 'dispatch' | 'events'> & Partial<Pick<Services, 'context'>>;
  /** The built renderer; defaults to out/renderer in the project. */
  root?: string;
  /** Largest request body accepted on any channel, in bytes; each channel has its own smaller limit (limits.ts). */
  maxBody?: number;
  /** Bytes of large bodies (uploads) read at once; default UPLOAD_MAX_BODY. */
  uploadBudget?: number;
  /** Large bodies read at once; default MAX_CONCURRENT_UPLOADS. */
  maxConcurrentUploads?: number;
  /** Bytes of small bodies read at once (limits.ts SMALL_BODIES_BUDGET). */
  smallBodiesBudget?: number;
  /** Settings whose folders (STUDIO_HOME, models, reference data, STUDIO_ALLOWED_DIRS) calls may use; default the services' own. */
  settings?: Settings;
  /** More folders calls may open and write: what the user named when starting the host. */
  allow?: string[];
  /** The allowlist itself, to share it (the Electron shell's IPC) or to inspect it. */
  allowlist?: FolderAllowlist;
  /** Use this token instead of a random one (tests only). */
  token?: string;
  log?: (line: string) => void;
}

export interface Host {
  /** The entry URL with the token: what the user opens. */
  url: string;
  origin: string;
  port: number;
  token: string;
  server: Server;
  /** The folders calls may use (paths.ts). */
  allowlist: FolderAllowlist;
  /** Large bodies being read now, and their bytes. */
  uploads(): { bodies: number; bytes: number; smallBytes: number };
  close(): Promise<void>;
}

/** Why a body was not taken: 413 over the channel's limit, 503 while the upload budget is spent. */
class Refused extends Error {
  constructor(
    readonly status: 413 | 503,
    readonly error: StudioErrorShape,
  ) {
    super(error.message);
  }
}

interface Body {
  bytes: Buffer;
  /** Gives the body's share of the upload budget back: call once its call has ended. */
  release(): void;
}

/**
 * Reads a request body of at most `limit` bytes into one buffer, never a list of chunks and a copy. A
 * declared Content-Length is checked (and, when large, reserved in `gate`) before a byte is read, and the
 * buffer is allocated once at that size; a chunked body grows its buffer by doubling and is cut off the
 * moment it passes the limit or the budget. A body idle for BODY_IDLE_MS is dropped.
 */
const EMPTY = Buffer.alloc(0);

function readBody(req: IncomingMessage, limit: number, gate: UploadGate): Promise<Body> {
  return new Promise((resolve, reject) => {
    const header = req.headers['content-length'];
    const declared = header !== undefined && req.headers['transfer-encoding'] === undefined ? Number(header) : NaN;
    const tooLarge = () => new Refused(413, { code: 'TOO_LARGE', message: `request body over ${limit} bytes for this channel` });
    const busy = () => {
      const held = gate.held();
      return new Refused(503, { code: 'BUSY', message: `the host is already receiving ${held.bodies} large upload(s) (${Math.round(held.bytes / 1024 ** 2)} MiB) and ${Math.round(held.smallBytes / 1024 ** 2)} MiB of other requests; retry in ${RETRY_AFTER_S} s` });
    };
    if (Number.isFinite(declared) && declared > limit) return reject(tooLarge());

    let reserved = 0;
    let large = false;
    let small = 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (large) gate.close(reserved);
      gate.releaseSmall(small);
      if (buf.length >= COLLECT_AFTER_BYTES) collectSoon();
      // The request's listeners keep this closure: drop the buffer from it.
      buf = EMPTY;
    };
    /** Reserve up to `bytes` in all; false when the gate refuses. */
    const reserve = (bytes: number): boolean => {
      if (bytes <= LARGE_BODY) {
        if (bytes <= small) return true;
        if (!gate.holdSmall(bytes - small)) return false;
        small = bytes;
        return true;
      }
      if (bytes <= reserved) return true;
      if (!large) {
        if (!gate.open(bytes)) return false;
        large = true;
      } else if (!gate.grow(bytes - reserved)) return false;
      reserved = bytes;
      return true;
    };

    const known = Number.isFinite(declared);
    const initial = known ? declared : Math.min(limit, 64 * 1024);
    // A refused reservation holds nothing: there is nothing to give back.
    if (!reserve(initial)) return reject(busy());
    // allocUnsafeSlow: the body's own ArrayBuffer at offset 0, so the wire decoder views it in place.
    let buf = Buffer.allocUnsafeSlow(initial);
    let size = 0;
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      req.removeListener('data', onData);
      release();
      reject(err);
    };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        fail(new Error('request body stalled'));
        req.destroy();
      }, BODY_IDLE_MS);
      idle.unref();
    };
    const onData = (chunk: Buffer) => {
      arm();
      const need = size + chunk.length;
      if (need > limit) return fail(tooLarge());
      if (need > buf.length) {
        if (known) return fail(new Error('request body longer than its Content-Length'));
        const capacity = Math.min(limit, Math.max(need, buf.length * 2));
        if (!reserve(capacity)) return fail(busy());
        const grown = Buffer.allocUnsafeSlow(capacity);
        buf.copy(grown, 0, 0, size);
        buf = grown;
      }
      chunk.copy(buf, size);
      size = need;
    };
    arm();
    req.on('data', onData);
    req.on('end', () => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      if (known && size !== declared) {
        release();
        return reject(new Error('request body shorter than its Content-Length'));
      }
      resolve({ bytes: size === buf.length ? buf : buf.subarray(0, size), release });
    });
    req.on('error', fail);
    req.on('close', () => {
      if (!settled) fail(new Error('request closed before its body ended'));
    });
  });
}

export async function createHost(options: HostOptions): Promise<Host> {
  const { services } = options;
  const root = options.root ?? join(PROJECT_ROOT, 'out', 'renderer');
  const maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
  const gate = new UploadGate(options.uploadBudget ?? Math.min(UPLOAD_MAX_BODY, maxBody), options.maxConcurrentUploads, options.smallBodiesBudget);
  const allowlist = options.allowlist ?? FolderAllowlist.fromSettings(options.settings ?? services.context?.settings ?? loadSettings(), options.allow);
  // Every path a payload names is checked against the allowlist before a service sees it (paths.ts).
  const dispatch = guardDispatch(services.dispatch, allowlist);
  const token = options.token ?? newToken();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let port = 0;
  let headers: Record<string, string> = {};

  const sendEnvelope = (res: ServerResponse, status: number, envelope: Envelope<unknown>) => {
    const body = encode(envelope);
    res.writeHead(status, { ...headers, 'Content-Type': WIRE_TYPE, 'Content-Length': String(body.byteLength), 'Cache-Control': 'no-store' });
    res.end(body);
  };
  const sendError = (res: ServerResponse, status: number, error: StudioErrorShape) => sendEnvelope(res, status, { ok: false, error });
  const sendText = (res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra });
    res.end(`${text}\n`);
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, channel: string): Promise<void> {
    if (req.method !== 'POST') return sendText(res, 405, 'use POST', { Allow: 'POST' });
    let body: Body;
    try {
      body = await readBody(req, Math.min(bodyLimit(channel), maxBody), gate);
    } catch (err) {
      if (err instanceof Refused) {
        // The rest of a refused body is never read: answer, then close the connection, so its bytes are
        // neither buffered nor drained.
        res.setHeader('Connection', 'close');
        if (err.status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_S));
        res.once('finish', () => req.socket.destroySoon());
        sendError(res, err.status, err.error);
        return;
      }
      // The client went away or stalled: nobody is left to answer.
      res.destroy();
      return;
    }
    try {
      let payload: unknown;
      if (body.bytes.byteLength > 0) {
        try {
          payload = decode(body.bytes);
        } catch (err) {
          return sendError(res, 400, { code: 'INVALID_PAYLOAD', message: `body is not a wire-encoded message: ${(err as Error).message}` });
        }
      }
      sendEnvelope(res, 200, await dispatch(channel, payload));
    } finally {
      body.release();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req, port)) return sendText(res, 403, 'host not allowed');
    if (!originAllowed(req, port)) return sendText(res, 403, 'origin not allowed');
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const isEntry = url.pathname === '/' || url.pathname === '/index.html';
    const isApi = url.pathname.startsWith('/api/');
    const source = tokenSource(req, url, token, port, isEntry);
    if (!source) {
      if (isApi) return sendError(res, 401, { code: 'UNAUTHORIZED', message: 'missing or wrong studio token' });
      return sendText(res, 401, 'missing or wrong studio token: open the URL that `studio serve` printed');
    }
    if (isApi) return handleApi(req, res, url.pathname.slice('/api/'.length));
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    // The entry page trades the query token for a cookie, so the page's own assets load without it.
    if (source === 'query') res.setHeader('Set-Cookie', `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    await serveFile(root, url.pathname, res, headers, req.method === 'HEAD');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`host: ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) sendError(res, 500, { code: 'INTERNAL', message: 'internal error' });
      else res.destroy();
    });
  });

  // The socket only pushes events; what a client sends is ignored, so keep its frames tiny.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const refuse = (socket: Duplex, status: string) => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (!hostAllowed(req, port) || !originAllowed(req, port)) return refuse(socket, '403 Forbidden');
    if (url.pathname !== '/events') return refuse(socket, '404 Not Found');
    if (!tokenSource(req, url, token, port, true)) return refuse(socket, '401 Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const alive = new WeakMap<WebSocket, boolean>();
  wss.on('connection', (ws) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('error', () => ws.terminate());
  });
  // Dead sockets (a laptop lid closed) would otherwise collect events forever.
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) ws.terminate();
      else {
        alive.set(ws, false);
        ws.ping();
      }
    }
  }, 30_000);
  heartbeat.unref();

  const unsubscribe = services.events.subscribe((event, payload) => {
    if (wss.clients.size === 0) return;
    const message = encode({ event, payload });
    for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(message);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  headers = securityHeaders(port);
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    server,
    allowlist,
    uploads: () => gate.held(),
    async close() {
      unsubscribe();
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
