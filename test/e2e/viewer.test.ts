/**
 * The viewer in real Chromium against the real browser host: open a DICOM file (made here, CT-like,
 * 16-bit signed, 3 frames, a window in the header), see it rendered, window it by dragging and by preset,
 * read pixel values under the cursor, scroll frames, zoom, invert, and see a broken file reported
 * without losing the good one. Screenshots land in test-results/e2e/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { referenceData } from '../../main/settings.ts';
import { phantom, writeDicom } from './dicom-fixture.ts';
import { type StudioPage, browserSkipReason, canvasStats, screenshot, studioSuite } from './helpers.ts';

const skip = browserSkipReason();
const ROWS = 512;
const COLS = 512;
/** The phantom's disc centre on frame 0 (it moves 20 px right per frame). */
const DISC_X = Math.round(COLS / 3);


const suite = studioSuite('studio-e2e-viewer-', async (dir) => {
  // Stored as (HU + 1024) × 2 with slope 0.5 and intercept −1024, so stored and modality values differ.
  const { pixels } = phantom(ROWS, COLS, 3);
  writeFileSync(join(dir, 'phantom.dcm'), writeDicom({ rows: ROWS, columns: COLS, frames: 3, pixels: Int16Array.from(pixels, (hu) => (hu + 1024) * 2), window: { center: 40, width: 400 }, rescale: { slope: 0.5, intercept: -1024 } }));
  // A DICOM preamble and magic, then garbage: must be reported, not crash the others.
  writeFileSync(join(dir, 'broken.dcm'), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('this is not a data set'.repeat(8))]));
  const big = phantom(2048, 2048, 1);
  writeFileSync(join(dir, 'big2048.dcm'), writeDicom({ rows: 2048, columns: 2048, pixels: big.pixels, window: { center: 40, width: 400 }, uidRoot: '2.25.99' }));
});

const canvas = '[data-testid="image-canvas"]';
const dataset = (page: StudioPage) => page.locator(canvas).evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset }));

/** Screen position of image pixel (x, y), from the view transform the canvas reports. */
async function screenOf(page: StudioPage, x: number, y: number, rows = ROWS, cols = COLS): Promise<{ sx: number; sy: number }> {
  const box = (await page.locator('[data-testid="viewport"]').boundingBox())!;
  const zoom = Number((await dataset(page)).zoom);
  // The image is fitted and centred.
  const panX = (box.width - cols * zoom) / 2;
  const panY = (box.height - rows * zoom) / 2;
  return { sx: box.x + panX + (x + 0.5) * zoom, sy: box.y + panY + (y + 0.5) * zoom };
}

async function readoutAt(page: StudioPage, x: number, y: number): Promise<string> {
  const { sx, sy } = await screenOf(page, x, y);
  await page.mouse.move(sx, sy);
  const want = `X ${Math.floor(x)} Y ${Math.floor(y)}`;
  await page.waitForFunction(([s, w]) => (document.querySelector(s)?.textContent ?? '').includes(w) && /Value/.test(document.querySelector(s)?.textContent ?? ''), ['[data-testid="pixel-readout"]', want] as const);
  return (await page.locator('[data-testid="pixel-readout"]').textContent()) ?? '';
}

test('a DICOM file opens, renders, windows by drag and preset, and reads pixel values', { skip }, async (t) => {
  const page = await suite.open();
  assert.doesNotMatch(page.url(), /token=/, 'the token is removed from the address bar');
  await screenshot(page, 'viewer-empty');

  await page.locator('[data-testid="file-input"]').setInputFiles([join(suite.dir, 'phantom.dcm'), join(suite.dir, 'broken.dcm')]);
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi'), canvas, { timeout: 30_000 });
  await page.waitForTimeout(100);

  // The broken file is listed with a reason; the good one is open and selected.
  const errors = page.locator('[data-testid="open-errors"]');
  await errors.waitFor();
  assert.match((await errors.textContent()) ?? '', /broken\.dcm/);
  assert.equal(await page.locator('.image-item').count(), 1);
  assert.match((await page.locator('.image-item').first().textContent()) ?? '', /phantom\.dcm/);

  // Rendered with the file's window (W 400 / L 40): a gradient with a white disc, not a blank canvas.
  const loaded = await canvasStats(page);
  assert.ok(loaded.nonBlack > loaded.width * loaded.height * 0.2, `only ${loaded.nonBlack} non-black pixels`);
  assert.equal(await page.locator('[data-testid="ww"]').textContent(), '400');
  assert.equal(await page.locator('[data-testid="wc"]').textContent(), '40');
  await screenshot(page, 'viewer-dicom-loaded');

  // The DICOM linear VOI function on screen: W 400 / L 40 shows HU 40 mid-grey, -160 black, +240 white.
  for (const [hu, grey] of [[40, 128], [-160, 0], [240, 255], [140, 192]] as const) {
    const x = Math.round(((hu + 1000) * (COLS - 1)) / 2000);
    const { sx, sy } = await screenOf(page, x, 20);
    const shown = await page.locator(canvas).evaluate((c, [px, py]) => {
      const r = c.getBoundingClientRect();
      return Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(Math.floor(px - r.left), Math.floor(py - r.top), 1, 1).data.slice(0, 3));
    }, [sx, sy] as const);
    assert.ok(shown.every((v) => Math.abs(v - grey) <= 4), `HU ${hu} shows as ${shown}, expected grey ${grey}`);
  }

  // Pixel readout: the disc is +1500 HU, the left edge of the gradient -1000 HU.
  // …with the stored value behind it: (HU − intercept) / slope.
  assert.match(await readoutAt(page, DISC_X, ROWS / 2), /X 171 Y 256[\s\S]*Value 1500 HU[\s\S]*stored 5048/);
  assert.match(await readoutAt(page, 0, 10), /X 0 Y 10[\s\S]*Value -1000 HU[\s\S]*stored 48(?!\d)/);
  assert.match(await readoutAt(page, COLS - 1, 10), /Value 1000 HU[\s\S]*stored 4048/);

  // Drag to window: right widens, up brightens. The frame is never fetched again while windowing.
  let frameRequests = 0;
  page.on('request', (r) => {
    if (r.url().includes('/api/imaging.frame')) frameRequests++;
  });
  const box = (await page.locator('[data-testid="viewport"]').boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 300, cy - 200, { steps: 15 });
  await page.mouse.up();
  await page.waitForTimeout(100);
  const ww = Number(await page.locator('[data-testid="ww"]').textContent());
  const wc = Number(await page.locator('[data-testid="wc"]').textContent());
  assert.ok(ww > 400, `width after dragging right: ${ww}`);
  assert.ok(wc < 40, `centre after dragging up: ${wc}`);
  const windowed = await canvasStats(page);
  assert.notEqual(windowed.hash, loaded.hash, 'the pixels did not change');
  assert.ok(windowed.mean > loaded.mean, `dragging up lowers the level, so the image gets brighter (${windowed.mean} vs ${loaded.mean})`);
  assert.equal(frameRequests, 0, 'windowing re-fetched the frame');
  await screenshot(page, 'viewer-dicom-windowed');

  // Presets: the CT lung window, then full range (-1000..1500 → W 2501).
  const presets = await page.locator('[data-testid="preset-select"] option').allTextContents();
  assert.ok(presets.some((p) => /Lung/.test(p)), `CT presets offered: ${presets.join(' | ')}`);
  const fullIndex = presets.findIndex((p) => /Full range/.test(p)) - 1;
  await page.locator('[data-testid="preset-select"]').selectOption(String(fullIndex));
  await page.waitForFunction(() => document.querySelector('[data-testid="ww"]')?.textContent === '2501');
  // Keys 1-9 pick presets: 1 is the file's own window.
  await page.locator(canvas).click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('1');
  await page.waitForFunction(() => document.querySelector('[data-testid="ww"]')?.textContent === '400');

  // Frame scrolling: arrow keys and Shift+wheel; the disc moves 20 px right per frame.
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-frame') === '1', canvas);
  assert.match(await readoutAt(page, DISC_X + 20 + 60, ROWS / 2), /Value 1500 HU/);
  const { sx, sy } = await screenOf(page, 10, 10);
  await page.mouse.move(sx, sy);
  await page.keyboard.down('Shift');
  await page.mouse.wheel(0, 100);
  await page.keyboard.up('Shift');
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-frame') === '2', canvas);
  assert.equal(await page.locator('[data-testid="ww"]').textContent(), '400', 'scrolling frames keeps the window');
  await screenshot(page, 'viewer-dicom-frame3');

  // Zoom with the wheel, back with F; invert with I.
  const fitted = Number((await dataset(page)).zoom);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction(([s, z]) => Number(document.querySelector(s as string)?.getAttribute('data-zoom')) > (z as number) * 1.3, [canvas, fitted] as const);
  await page.keyboard.press('f');
  await page.waitForFunction(([s, z]) => Math.abs(Number(document.querySelector(s as string)?.getAttribute('data-zoom')) - (z as number)) < 1e-3, [canvas, fitted] as const);
  const before = await canvasStats(page);
  await page.keyboard.press('i');
  await page.waitForTimeout(150);
  const inverted = await canvasStats(page);
  assert.notEqual(inverted.hash, before.hash);

  await page.keyboard.press('h');
  await page.locator('[data-testid="help"]').waitFor();
  await screenshot(page, 'viewer-help');
  await page.keyboard.press('Escape');

  assert.deepEqual(page.studioErrors, []);
  t.diagnostic(`host logs: ${suite.host.logs.length}`);
  await page.context().close();
});

test('a 2048² 16-bit image windows without re-fetching, and the window time is measured', { skip }, async (t) => {
  const page = await suite.open();
  // The browser host runs on this machine: the path box opens files in place.
  await page.locator('[data-testid="open-path"]').fill(join(suite.dir, 'big2048.dcm'));
  await page.locator('[data-testid="open-path"]').press('Enter');
  await page.locator('.image-item', { hasText: 'big2048.dcm' }).click();
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi') && document.querySelector('.corner.tr')?.textContent?.includes('2048'), canvas, { timeout: 60_000 });
  let frameRequests = 0;
  page.on('request', (r) => {
    if (r.url().includes('/api/imaging.frame')) frameRequests++;
  });
  const box = (await page.locator('[data-testid="viewport"]').boundingBox())!;
  await page.mouse.move(box.x + 200, box.y + 200);
  await page.mouse.down();
  const windowMs: number[] = [];
  const drawMs: number[] = [];
  for (let i = 1; i <= 30; i++) {
    await page.mouse.move(box.x + 200 + i * 8, box.y + 200 + i * 3);
    await page.evaluate(() => new Promise(requestAnimationFrame));
    const d = await dataset(page);
    windowMs.push(Number(d.windowMs));
    drawMs.push(Number(d.drawMs));
  }
  await page.mouse.up();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  t.diagnostic(`2048x2048 int16 in headless Chromium (--disable-gpu): window pass median ${median(windowMs).toFixed(1)} ms (max ${Math.max(...windowMs).toFixed(1)}), draw to screen median ${median(drawMs).toFixed(1)} ms`);
  const median0 = median(windowMs);
  assert.equal(frameRequests, 0);
  assert.ok(median0 > 0);
  await screenshot(page, 'viewer-2048');
  assert.deepEqual(page.studioErrors, []);
  await page.context().close();
});

test('the tab shell loads each panel on first use and the viewer keeps its image across tabs', { skip }, async () => {
  const page = await suite.open();
  await page.locator('[data-testid="file-input"]').setInputFiles(join(suite.dir, 'phantom.dcm'));
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi'), canvas, { timeout: 30_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const shown = await canvasStats(page);
  for (const tab of ['review', 'training', 'compare']) {
    assert.equal(await page.locator(`[data-tab="${tab}"]`).count(), 0, `${tab} is mounted before it is opened`);
    await page.getByRole('tab', { name: new RegExp(tab, 'i') }).click();
    const panel = page.locator(`[data-tab="${tab}"]`);
    await panel.waitFor();
    await panel.locator('.panel-loading').waitFor({ state: 'detached', timeout: 30_000 });
    assert.ok(await panel.isVisible());
    assert.ok(await page.locator('[data-tab="viewer"]').isHidden());
    await screenshot(page, `shell-${tab}`);
  }
  await page.getByRole('tab', { name: /viewer/i }).click();
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-image-id'), canvas);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const back = await canvasStats(page);
  assert.equal(back.hash, shown.hash, 'the viewer lost its image or window');
  await page.context().close();
});

test('at 1024 px the view tools wrap inside the image column instead of running under the detector panel', { skip }, async () => {
  const page = await suite.open({ width: 1024, height: 700 });
  await page.locator('[data-testid="file-input"]').setInputFiles(join(suite.dir, 'phantom.dcm'));
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi'), canvas, { timeout: 30_000 });
  const box = await page.evaluate(() => {
    const bar = document.querySelector('[aria-label="View tools"]') as HTMLElement;
    const column = bar.closest('.center') as HTMLElement;
    const right = Math.max(...[...bar.querySelectorAll('button, select')].map((e) => e.getBoundingClientRect().right));
    return { right, column: column.getBoundingClientRect().right, overflow: bar.scrollWidth - bar.clientWidth };
  });
  assert.ok(box.right <= box.column + 0.5, `a tool ends at ${box.right}, the image column at ${box.column}`);
  assert.equal(box.overflow, 0);
  await page.context().close();
});

test('a folder picked in the browser and images dropped on the viewer open through uploads', { skip }, async () => {
  const folder = join(suite.dir, 'series');
  mkdirSync(folder);
  for (let i = 0; i < 2; i++) writeFileSync(join(folder, `slice${i}.dcm`), writeDicom({ rows: 64, columns: 64, pixels: phantom(64, 64, 1).pixels, window: { center: 0, width: 2000 }, uidRoot: '2.25.4242' }));
  writeFileSync(join(folder, '.DS_Store'), 'not an image');
  const page = await suite.open();

  await page.locator('[data-testid="folder-input"]').setInputFiles(folder);
  // Wait for the two slices by name: the list may also fill in with images earlier tests opened in this
  // host session, whenever its first imaging.list answers, so a count taken before the upload is a race.
  await page.waitForFunction(
    () => {
      const names = [...document.querySelectorAll('.image-item')].map((e) => e.textContent ?? '');
      return ['slice0.dcm', 'slice1.dcm'].every((n) => names.some((t) => t.includes(n)));
    },
    undefined,
    { timeout: 30_000 },
  );
  assert.equal(await page.locator('[data-testid="open-errors"]').count(), 0, 'hidden files are skipped, not reported');

  // A PNG made in the page, dropped on the viewer like a file from the desktop.
  await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 120;
    c.height = 80;
    const ctx = c.getContext('2d')!;
    ctx.fillStyle = 'rgb(200, 30, 60)';
    ctx.fillRect(0, 0, 120, 80);
    ctx.fillStyle = 'rgb(20, 220, 90)';
    ctx.fillRect(60, 0, 60, 80);
    const blob = await new Promise<Blob>((resolve) => c.toBlob((b) => resolve(b!), 'image/png'));
    const dt = new DataTransfer();
    dt.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
    const target = document.querySelector('.viewer')!;
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.locator('.image-item', { hasText: 'dropped.png' }).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('.corner.tr')?.textContent?.includes('dropped.png'));
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi'), canvas);
  // Colour images read out as RGB.
  const box = (await page.locator('[data-testid="viewport"]').boundingBox())!;
  const zoom = Number((await dataset(page)).zoom);
  const left = box.x + (box.width - 120 * zoom) / 2;
  const top = box.y + (box.height - 80 * zoom) / 2;
  await page.mouse.move(left + 10 * zoom, top + 40 * zoom);
  await page.waitForFunction(() => /RGB 200, 30, 60/.test(document.querySelector('[data-testid="pixel-readout"]')?.textContent ?? ''));
  await page.mouse.move(left + 100 * zoom, top + 40 * zoom);
  await page.waitForFunction(() => /RGB 20, 220, 90/.test(document.querySelector('[data-testid="pixel-readout"]')?.textContent ?? ''));
  await screenshot(page, 'viewer-dropped-png');
  assert.deepEqual(page.studioErrors, []);
  await page.context().close();
});

test('MONOCHROME1 shows high values dark, and Invert flips it', { skip }, async () => {
  const file = join(suite.dir, 'mono1.dcm');
  writeFileSync(file, writeDicom({ rows: 128, columns: 128, pixels: phantom(128, 128).pixels, photometric: 'MONOCHROME1', window: { center: 0, width: 2000 }, modality: 'CR' }));
  const page = await suite.open();
  await page.locator('[data-testid="file-input"]').setInputFiles(file);
  await page.waitForFunction(() => document.querySelector('.corner.tr')?.textContent?.includes('mono1.dcm'), null, { timeout: 30_000 });
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi'), canvas);
  const greyAt = async (x: number, y: number) => {
    const { sx, sy } = await screenOf(page, x, y, 128, 128);
    return page.locator(canvas).evaluate((c, [px, py]) => {
      const r = c.getBoundingClientRect();
      return (c as HTMLCanvasElement).getContext('2d')!.getImageData(Math.floor(px - r.left), Math.floor(py - r.top), 1, 1).data[0];
    }, [sx, sy] as const);
  };
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  // The disc (+1500, above the window) is black; the left edge (-1000, the window's bottom) is white.
  assert.ok((await greyAt(43, 64)) < 10, 'MONOCHROME1 disc should be dark');
  assert.ok((await greyAt(0, 5)) > 245, 'MONOCHROME1 low values should be bright');
  await page.locator('[data-testid="invert"]').click();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.ok((await greyAt(43, 64)) > 245, 'inverted MONOCHROME1 disc should be bright');
  await page.context().close();
});

const corpus = referenceData('dicom');
const vlut = 'dir' in corpus ? join(corpus.dir, 'pydicom-data', 'data_store', 'data', 'vlut_04.dcm') : '';
const vlutSkip = skip ?? ('skip' in corpus ? corpus.skip : existsSync(vlut) ? undefined : `corpus file missing: ${vlut}`);

test('a corpus file whose VOI is a LUT sequence opens through its LUT and offers it as a preset', { skip: vlutSkip }, async () => {
  const page = await suite.open();
  await page.locator('[data-testid="open-path"]').fill(vlut);
  await page.locator('[data-testid="open-path"]').press('Enter');
  await page.waitForFunction(() => document.querySelector('.corner.tr')?.textContent?.includes('vlut_04.dcm'), null, { timeout: 30_000 });
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi') === 'lut', canvas);
  assert.match((await page.locator('[data-testid="view-status"]').textContent()) ?? '', /VOI LUT/);
  const presets = await page.locator('[data-testid="preset-select"] option').allTextContents();
  assert.ok(presets.some((p) => /File VOI LUT/.test(p)), presets.join(' | '));
  const stats = await canvasStats(page);
  assert.ok(stats.nonBlack > stats.width * stats.height * 0.2);
  await screenshot(page, 'viewer-voi-lut');
  assert.deepEqual(page.studioErrors, []);
  await page.context().close();
});
