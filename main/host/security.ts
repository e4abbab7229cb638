/**
 * The browser host's gatekeeping: who may talk to it (the per-run token), from where (Host and Origin),
 * and what every response says about itself (security headers). Kept apart from the server so the rules
 * are in one readable place.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_HEADER = 'x-studio-token';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Cookies are per host, not per port: name it by port so two hosts on one machine do not clash. */
export function cookieName(port: number): string {
  return `studio_token_${port}`;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export type TokenSource = 'header' | 'cookie' | 'query' | null;

/**
 * Where the request proves it holds the token, or null. The query form is only honoured where the caller
 * allows it (the HTML entry, and the event socket, which a browser cannot give headers).
 */
export function tokenSource(req: IncomingMessage, url: URL, token: string, port: number, allowQuery: boolean): TokenSource {
  const header = req.headers[TOKEN_HEADER];
  if (sameToken(Array.isArray(header) ? header[0] : header, token)) return 'header';
  if (sameToken(cookies(req).get(cookieName(port)), token)) return 'cookie';
  if (allowQuery && sameToken(url.searchParams.get('token') ?? undefined, token)) return 'query';
  return null;
}

const LOCAL_NAMES = new Set(['127.0.0.1', 'localhost']);

/** DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends `Host: evil.example`. */
export function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host;
  if (!host) return false;
  const m = /^([^:]+|\[[^\]]+\])(?::(\d+))?$/.exec(host.toLowerCase());
  if (!m) return false;
  if (!LOCAL_NAMES.has(m[1])) return false;
  return m[2] === undefined || Number(m[2]) === port;
}

/** A browser sends Origin on cross-origin requests and on every WebSocket: it must be ourselves. */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

/**
 * The studio's Content-Security-Policy, for the browser host (with its WebSocket origin) and for the
 * Electron shell (no port: the renderer talks through the preload bridge, not the network).
 */
export function contentSecurityPolicy(port?: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    // Chromium counts ws: to the same host and port as 'self', older engines do not: name them.
    port === undefined ? "connect-src 'self'" : `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  };
}
