/**
 * Shared pieces for end-to-end tests in real Chromium. Typical use:
 *
 *   const skip = browserSkipReason();                 // undefined, or why these tests cannot run here
 *   test('…', { skip }, async () => {
 *     const host = await startHost();                   // real services + real browser host, port 0
 *     const browser = await launchChromium();
 *     try {
 *       const page = await openStudio(browser, host);   // the studio loaded and its first calls answered
 *       …
 *       await screenshot(page, 'my-topic-step');         // test-results/e2e/my-topic-step.png
 *       assert.deepEqual(page.studioErrors, []);         // console errors and page crashes, collected
 *     } finally {
 *       await browser.close();
 *       await host.close();
 *     }
 *   });
 *
 * A file whose tests share one host and one browser declares them once instead:
 *
 *   const suite = studioSuite('studio-e2e-topic-', async (dir) => {   // fill the temporary folder
 *     …
 *     return { modelsDir: join(dir, 'models') };                       // the host's settings
 *   });
 *   test('…', { skip }, async () => {
 *     const page = await suite.open();                                  // suite.dir, suite.host too
 *   });
 *
 * The renderer must be built (out/renderer): `npm test` builds it; a single file run through
 * `node --import tsx --test` builds it here when the sources are newer than the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { type Browser, type Page, chromium } from 'playwright-core';
import { createHost, type Host } from '../../main/host/index.ts';
import { createServices, type Services } from '../../main/services/index.ts';
import { PROJECT_ROOT, type Settings, loadSettings } from '../../main/settings.ts';

export const ARTIFACTS = join(PROJECT_ROOT, 'test-results', 'e2e');

/** Debian's chromium (or chromium-browser), or null. */
export function chromiumPath(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  const path = found.stdout.trim().split('\n')[0];
  return found.status === 0 && path ? path : null;
}

/** Why browser tests cannot run on this machine, or undefined when they can. Pass it as `{ skip }`. */
export function browserSkipReason(): string | undefined {
  if (!chromiumPath()) return 'chromium is not installed (Debian: apt-get install -y chromium)';
  const built = ensureRendererBuilt();
  if (built !== true) return `the renderer could not be built: ${built}`;
  return undefined;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const s = statSync(full);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(full) : s.mtimeMs);
  }
  return newest;
}

/**
 * Build out/renderer when it is missing or older than its sources. A lock folder keeps test files that
 * run in parallel from building over each other.
 */
export function ensureRendererBuilt(): true | string {
  const entry = join(PROJECT_ROOT, 'out', 'renderer', 'index.html');
  const sources = Math.max(newestMtime(join(PROJECT_ROOT, 'renderer')), newestMtime(join(PROJECT_ROOT, 'preload')));
  const fresh = () => existsSync(entry) && statSync(entry).mtimeMs >= sources;
  if (fresh()) return true;
  const lock = join(PROJECT_ROOT, 'out', '.renderer-build.lock');
  mkdirSync(join(PROJECT_ROOT, 'out'), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) return 'timed out waiting for another build';
      spawnSync('sleep', ['0.5']);
      if (fresh()) return true;
    }
  }
  try {
    if (fresh()) return true;
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (r.status !== 0) return (r.stderr || r.stdout || String(r.error)).trim().slice(-500);
    return existsSync(entry) ? true : 'the build wrote no out/renderer/index.html';
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface StartedHost extends Host {
  services: Services;
  /** Lines the services logged (errors from handlers land here). */
  logs: string[];
}

/** The real services behind the real browser host, on a free port of 127.0.0.1. */
export async function startHost(options: { settings?: Partial<Settings> } = {}): Promise<StartedHost> {
  const logs: string[] = [];
  const services = createServices({ shell: 'browser', settings: { ...loadSettings(), ...options.settings }, log: (l) => logs.push(l) });
  const host = await createHost({ port: 0, services, log: (l) => logs.push(l) });
  return {
    ...host,
    services,
    logs,
    async close() {
      await host.close();
      await services.close();
    },
  };
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed');
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

export type StudioPage = Page & { studioErrors: string[] };

/**
 * A page with the studio loaded from the host's URL (token included), once the viewer is on screen.
 * Console errors and uncaught exceptions are collected in `page.studioErrors`.
 */
export async function openStudio(browser: Browser, host: Pick<Host, 'url'>, viewport = { width: 1440, height: 900 }): Promise<StudioPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = (await context.newPage()) as StudioPage;
  page.studioErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.studioErrors.push(m.text());
  });
  page.on('pageerror', (e) => page.studioErrors.push(String(e)));
  await page.goto(host.url);
  await page.locator('[data-testid="viewport"]').waitFor({ timeout: 30_000 });
  return page;
}

/** Save a screenshot as a test artifact; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Resolves after the page has painted twice: whatever the last input scheduled is on the canvas. */
export async function painted(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
}

/**
 * Statistics of a canvas's pixels: how many differ from black, how many are not transparent (overlays),
 * their mean grey and a checksum. The image layer is `[data-testid="image-canvas"]`, the overlay layer
 * `[data-testid="overlay-canvas"]`.
 */
export async function canvasStats(page: Page, selector = '[data-testid="image-canvas"]'): Promise<{ nonBlack: number; opaque: number; mean: number; hash: number; width: number; height: number }> {
  return page.locator(selector).evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let nonBlack = 0;
    let opaque = 0;
    let sum = 0;
    let hash = 0;
    for (let i = 0; i < d.length; i += 4) {
      const v = d[i] + d[i + 1] + d[i + 2];
      if (v > 0) nonBlack++;
      if (d[i + 3] > 0) opaque++;
      sum += v / 3;
      hash = (Math.imul(hash, 31) + v + d[i + 3] * 1024) | 0;
    }
    return { nonBlack, opaque, mean: sum / (d.length / 4), hash, width: c.width, height: c.height };
  });
}

export interface StudioSuite {
  /** The suite's temporary folder, removed after its tests. */
  readonly dir: string;
  readonly host: StartedHost;
  readonly browser: Browser;
  /** A page with the studio loaded from this suite's host. */
  open(viewport?: { width: number; height: number }): Promise<StudioPage>;
}

/**
 * One host and one Chromium for a test file. Before its tests: a temporary folder, filled by `setup`,
 * which returns the host's settings; then the host and the browser. After them: both closed and the
 * folder removed, also when setup failed half way. Nothing starts where the browser cannot run.
 */
export function studioSuite(prefix: string, setup: (dir: string) => Promise<Partial<Settings> | void> = async () => undefined): StudioSuite {
  let state: { dir: string; host?: StartedHost; browser?: Browser } | null = null;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the suite's ${what} was not started: ${browserSkipReason() ?? 'its setup failed'}`);
    return value;
  };
  before(async () => {
    if (browserSkipReason()) return;
    state = { dir: mkdtempSync(join(tmpdir(), prefix)) };
    const settings = (await setup(state.dir)) ?? {};
    // The suite's folder is the user's own, as a folder they added to STUDIO_ALLOWED_DIRS would be.
    state.host = await startHost({ settings: { ...settings, allowedDirs: [state.dir, ...(settings.allowedDirs ?? [])] } });
    state.browser = await launchChromium();
  });
  after(async () => {
    await state?.browser?.close();
    await state?.host?.close();
    if (state) rmSync(state.dir, { recursive: true, force: true });
  });
  const suite: StudioSuite = {
    get dir() {
      return need(state?.dir, 'folder');
    },
    get host() {
      return need(state?.host, 'host');
    },
    get browser() {
      return need(state?.browser, 'browser');
    },
    open: (viewport) => openStudio(suite.browser, suite.host, viewport),
  };
  return suite;
}
