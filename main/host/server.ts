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
import { PROJECT_ROOT } from '../settings.ts';
import { cookieName, hostAllowed, newToken, originAllowed, securityHeaders, tokenSource } from './security.ts';
import { serveFile } from './static.ts';

export const DEFAULT_MAX_BODY = 1024 ** 3;
export const WIRE_TYPE = 'application/x-studio-wire';

export interface HostOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  services: Pick<Services, 'dispatch' | 'events'>;
  /** The built renderer; defaults to out/renderer in the project. */
  root?: string;
  /** Largest request body accepted, in bytes (uploads travel as one request). */
  maxBody?: number;
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
  close(): Promise<void>;
}

class TooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

export async function createHost(options: HostOptions): Promise<Host> {
  const { services } = options;
  const root = options.root ?? join(PROJECT_ROOT, 'out', 'renderer');
  const maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
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
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof TooLarge) {
        // Stop reading a body we refuse; the connection cannot be reused after that.
        res.setHeader('Connection', 'close');
        sendError(res, 413, { code: 'TOO_LARGE', message: `request body over ${maxBody} bytes` });
        req.resume();
        return;
      }
      throw err;
    }
    let payload: unknown;
    if (body.byteLength > 0) {
      try {
        payload = decode(body);
      } catch (err) {
        return sendError(res, 400, { code: 'INVALID_PAYLOAD', message: `body is not a wire-encoded message: ${(err as Error).message}` });
      }
    }
    sendEnvelope(res, 200, await services.dispatch(channel, payload));
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
