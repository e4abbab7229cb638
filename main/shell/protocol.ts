/**
 * The renderer's own origin in Electron: `app://studio/…`, served by the shell from out/renderer
 * (Electron's security checklist, item 18: a custom protocol instead of file://, which would let the page
 * read any file the user can). What a request may name is decided here, without `electron`, so it is
 * unit-tested: a path resolves inside the renderer folder or not at all.
 */
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'studio';
/** The page the window loads. */
export const APP_ENTRY = `${APP_SCHEME}://${APP_HOST}/index.html`;

/**
 * The file under `root` that `requestUrl` names, or undefined when it names none safely: another scheme
 * or host, a segment that decodes to `..`, `.`, a separator or NUL, anything that would resolve outside
 * `root`. The query and fragment are ignored; `/` is index.html. Symbolic links are not followed here:
 * out/renderer is the build's own output (and inside app.asar in a package), which holds none.
 */
export function resolveAppPath(requestUrl: string, root: string): string | undefined {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.hostname !== APP_HOST || url.port !== '' || url.username || url.password) return undefined;
  // The raw path as sent (URL has already folded literal and %2e dot segments; the checks below repeat
  // that for whatever decodes to one, since a standard scheme in Chromium and a plain one in Node differ).
  const raw = url.pathname === '' || url.pathname === '/' ? '/index.html' : url.pathname;
  const segments: string[] = [];
  for (const part of raw.split('/').slice(1)) {
    let name: string;
    try {
      name = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (name === '' || name === '.' || name === '..') return undefined;
    if (/[/\\\0:]/.test(name)) return undefined;
    segments.push(name);
  }
  if (segments.length === 0) return undefined;
  const base = resolve(root);
  const file = resolve(join(base, ...segments));
  const rel = relative(base, file);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return undefined;
  return file;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** The Content-Type the protocol answers a file with (sent with nosniff, so it must be right). */
export function contentTypeFor(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Whether a frame's URL is the studio's own page: app://studio/ (any path, since the page is a single
 * document) or, in development, the dev server's origin (`ELECTRON_RENDERER_URL`).
 */
export function isStudioPage(frameUrl: string | undefined, devServerUrl?: string): boolean {
  if (!frameUrl) return false;
  let url: URL;
  try {
    url = new URL(frameUrl);
  } catch {
    return false;
  }
  if (devServerUrl) {
    let dev: URL;
    try {
      dev = new URL(devServerUrl);
    } catch {
      return false;
    }
    return url.protocol === dev.protocol && url.host === dev.host;
  }
  return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST && !url.username && !url.password;
}
