/**
 * The renderer's one door to the services: a typed `StudioApi` over Electron's bridge when the preload
 * put one there, else over the browser host's HTTP + WebSocket. Callers never see the transport.
 *
 * A call resolves with the value or rejects with a `StudioClientError` carrying the envelope's code.
 */
import type { Channel, Envelope, ErrorCode, EventName, Events, Request, Response, StudioApi } from '../../preload/contract.ts';
import { decode, encode } from '../../preload/wire.ts';

export interface Bridge {
  invoke(channel: string, payload: unknown): Promise<Envelope<unknown>>;
  on(event: string, listener: (payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    studioBridge?: Bridge;
  }
}

export class StudioClientError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly subject?: string,
  ) {
    super(message);
    this.name = 'StudioClientError';
  }
}

const TOKEN_KEY = 'studio.token';
const TOKEN_HEADER = 'x-studio-token';

/**
 * The host's token: taken from `?token=` once, kept in sessionStorage (this tab only), and removed from
 * the address bar so it does not linger in history or screenshots.
 */
export function hostToken(): string {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // Storage can be disabled; the cookie the host set still lets this page load its assets.
    }
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

type Listener = (payload: unknown) => void;

/** The browser host's transport: fetch for calls, one self-healing WebSocket for events. */
function hostBridge(): Bridge {
  const token = hostToken();
  const listeners = new Map<string, Set<Listener>>();
  let socket: WebSocket | null = null;
  let retry = 500;

  const connect = () => {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${window.location.host}/events?token=${encodeURIComponent(token)}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      retry = 500;
    };
    ws.onmessage = (msg) => {
      if (!(msg.data instanceof ArrayBuffer)) return;
      let event: { event: string; payload: unknown };
      try {
        event = decode(msg.data);
      } catch {
        return;
      }
      for (const l of listeners.get(event.event) ?? []) {
        try {
          l(event.payload);
        } catch (err) {
          console.error(err);
        }
      }
    };
    ws.onclose = () => {
      socket = null;
      // Reconnect only while someone listens; back off so a stopped host is not hammered.
      if ([...listeners.values()].some((s) => s.size > 0)) {
        setTimeout(() => {
          if (!socket) connect();
        }, retry);
        retry = Math.min(retry * 2, 10_000);
      }
    };
    socket = ws;
  };

  return {
    async invoke(channel, payload) {
      let res: globalThis.Response;
      try {
        res = await fetch(`/api/${encodeURIComponent(channel)}`, {
          method: 'POST',
          headers: { [TOKEN_HEADER]: token, 'Content-Type': 'application/x-studio-wire' },
          body: encode(payload ?? {}) as BufferSource,
          credentials: 'same-origin',
        });
      } catch (err) {
        return { ok: false, error: { code: 'INTERNAL', message: `the studio host did not answer (${(err as Error).message}); is \`studio serve\` still running?` } };
      }
      const type = res.headers.get('content-type') ?? '';
      if (!type.startsWith('application/x-studio-wire')) {
        return { ok: false, error: { code: res.status === 401 ? 'UNAUTHORIZED' : 'INTERNAL', message: `host answered ${res.status}: ${(await res.text()).slice(0, 200)}` } };
      }
      return decode<Envelope<unknown>>(await res.arrayBuffer());
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      if (!socket) connect();
      return () => {
        set.delete(listener);
      };
    },
  };
}

export function createApi(bridge: Bridge = window.studioBridge ?? hostBridge()): StudioApi {
  const call = async (channel: string, request: unknown): Promise<unknown> => {
    const envelope = await bridge.invoke(channel, request ?? {});
    if (envelope.ok) return envelope.value;
    throw new StudioClientError(envelope.error.code, envelope.error.message, envelope.error.subject);
  };
  const on = <E extends EventName>(event: E, listener: (payload: Events[E]) => void) => bridge.on(event, listener as Listener);
  // A Proxy rather than a loop over CHANNELS keeps the contract's zod schemas out of the renderer bundle.
  return new Proxy({} as StudioApi, {
    get(_target, name) {
      if (name === 'on') return on;
      if (typeof name !== 'string' || name === 'then') return undefined;
      return (request: Request<Channel>) => call(name, request) as Promise<Response<Channel>>;
    },
  });
}

export const isElectron = (): boolean => typeof window !== 'undefined' && !!window.studioBridge;
