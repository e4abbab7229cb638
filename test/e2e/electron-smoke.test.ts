/**
 * The Electron shell, where its binary exists: the window opens hardened, the contract answers through the
 * preload bridge, and an image renders. Elsewhere (the binary cannot be downloaded) it reports itself
 * skipped with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { _electron as electron } from 'playwright-core';
import { PROJECT_ROOT } from '../../main/settings.ts';
// @ts-expect-error: a plain .mjs script without type declarations
import { electronBinary } from '../../scripts/electron-path.mjs';
import { phantom, writeDicom } from './dicom-fixture.ts';
import { ARTIFACTS, canvasStats, ensureRendererBuilt } from './helpers.ts';

test('the Electron window opens, answers the contract through the bridge, and renders a DICOM image', async (t) => {
  const binary = electronBinary() as { path?: string; reason?: string };
  if (!binary.path) return t.skip(`no Electron binary: ${binary.reason}`);
  const built = ensureRendererBuilt();
  if (built !== true) return t.skip(`the app could not be built: ${built}`);
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return t.skip('no display (run under xvfb-run for the Electron smoke test)');

  const dir = mkdtempSync(join(tmpdir(), 'studio-electron-'));
  const file = join(dir, 'phantom.dcm');
  writeFileSync(file, writeDicom({ rows: 256, columns: 256, pixels: phantom(256, 256).pixels, window: { center: 40, width: 400 } }));
  // Root cannot use Chromium's sandbox in CI containers; a desktop user keeps it.
  const args = [PROJECT_ROOT, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])];
  const app = await electron.launch({ executablePath: binary.path, args, env: { ...process.env, ELECTRON_ENABLE_LOGGING: '1' }, timeout: 60_000 });
  try {
    const page = await app.firstWindow();
    await page.locator('[data-testid="viewport"]').waitFor({ timeout: 60_000 });

    const prefs = await app.evaluate(({ BrowserWindow }) => {
      const w = BrowserWindow.getAllWindows()[0];
      const p = (w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> | null }).getLastWebPreferences() ?? {};
      return { contextIsolation: p.contextIsolation, sandbox: p.sandbox, nodeIntegration: p.nodeIntegration };
    });
    assert.deepEqual(prefs, { contextIsolation: true, sandbox: true, nodeIntegration: false });
    assert.equal(await page.evaluate(() => typeof (window as unknown as { require?: unknown }).require), 'undefined', 'no Node in the renderer');

    const info = await page.evaluate(() => (window as unknown as { studioBridge: { invoke(c: string, p: unknown): Promise<unknown> } }).studioBridge.invoke('app.info', {}));
    assert.equal((info as { ok: boolean; value: { shell: string } }).value.shell, 'electron');
    const bad = (await page.evaluate(() => (window as unknown as { studioBridge: { invoke(c: string, p: unknown): Promise<unknown> } }).studioBridge.invoke('imaging.frame', { id: 5 }))) as { ok: boolean; error: { code: string } };
    assert.equal(bad.error.code, 'INVALID_PAYLOAD');

    await page.locator('[data-testid="file-input"]').setInputFiles(file);
    await page.waitForFunction(() => document.querySelector('[data-testid="image-canvas"]')?.getAttribute('data-voi'), null, { timeout: 60_000 });
    const stats = await canvasStats(page);
    assert.ok(stats.nonBlack > stats.width * stats.height * 0.1, `only ${stats.nonBlack} non-black pixels`);
    await page.screenshot({ path: join(ARTIFACTS, 'electron-smoke.png') });
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
