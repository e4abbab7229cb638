/**
 * The detector from the viewer in real Chromium: pick a model, run it on the open DICOM image, and see its
 * lesion heatmap, an attention module's map, Grad-CAM and the boxes drawn on the overlay layer, following
 * zoom. The model is built here (untrained, its output bias set so the heatmap and boxes are not empty):
 * the test is about the studio's plumbing and drawing, not the model's skill.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveModel } from '../../main/detector/io.ts';
import { buildModel } from '../../main/detector/model.ts';
import { phantom, writeDicom } from './dicom-fixture.ts';
import { browserSkipReason, canvasStats, painted, screenshot, studioSuite } from './helpers.ts';

const skip = browserSkipReason();

const suite = studioSuite('studio-e2e-detector-', async (dir) => {
  const modelsDir = join(dir, 'models');
  await saveModel(buildModel({ variant: 'cbam', inputSize: 128, priorProbability: 0.6 }), join(modelsDir, 'e2e-cbam'), { name: 'e2e-cbam', variant: 'cbam', inputSize: 128 });
  writeFileSync(join(dir, 'phantom.dcm'), writeDicom({ rows: 256, columns: 320, pixels: phantom(256, 320).pixels, window: { center: 40, width: 400 } }));
  writeFileSync(join(dir, 'second.dcm'), writeDicom({ rows: 200, columns: 200, pixels: phantom(200, 200).pixels, window: { center: 40, width: 400 } }));
  return { modelsDir };
});

const overlay = '[data-testid="overlay-canvas"]';
const attr = (page: import('playwright-core').Page, name: string) => page.locator(overlay).getAttribute(name);

test('the detector runs from the viewer and its heatmap, attention, Grad-CAM and boxes overlay the image', { skip }, async (t) => {
  const page = await suite.open();
  await page.locator('[data-testid="file-input"]').setInputFiles(join(suite.dir, 'phantom.dcm'));
  await page.waitForFunction(() => document.querySelector('[data-testid="image-canvas"]')?.getAttribute('data-voi'), null, { timeout: 30_000 });

  const models = await page.locator('[data-testid="model-select"] option').allTextContents();
  assert.deepEqual(models, ['e2e-cbam (cbam, 128²)']);
  const empty = await canvasStats(page, overlay);
  assert.equal(empty.opaque, 0, 'nothing is overlaid before a run');

  await page.locator('[data-testid="run-detector"]').click();
  const meta = page.locator('[data-testid="detector-result"]');
  await meta.waitFor({ timeout: 120_000 });
  const metaText = (await meta.textContent()) ?? '';
  assert.match(metaText, /(wasm|cpu|tensorflow|onnxruntime)/, `backend shown: ${metaText}`);
  assert.match(metaText, /\d+ ms/);
  t.diagnostic(`detector result: ${metaText}`);

  // The lesion heatmap is drawn over the image's extent.
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-overlay') === 'map', overlay);
  await painted(page);
  const heat = await canvasStats(page, overlay);
  assert.ok(heat.opaque > 0, 'the heatmap is not drawn');
  assert.match((await page.locator('[data-testid="legend"]').textContent()) ?? '', /Lesion probability/);
  await screenshot(page, 'detector-heatmap');

  // Every attention module's map can be chosen.
  const layers = await page.locator('[data-testid="overlay-layer"] option').allTextContents();
  const attention = layers.filter((l) => l.startsWith('Attention'));
  assert.ok(attention.length >= 4, `attention maps offered: ${layers.join(' | ')}`);
  const values = await page.locator('[data-testid="overlay-layer"] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  await page.locator('[data-testid="overlay-layer"]').selectOption(values.find((v) => v.startsWith('attention:'))!);
  await page.waitForFunction((s) => /Attention/.test(document.querySelector(s)?.textContent ?? ''), '[data-testid="legend"]');
  await painted(page);
  const att = await canvasStats(page, overlay);
  assert.ok(att.opaque > 0, 'the attention map is not drawn');
  assert.notEqual(att.hash, heat.hash, 'the attention map looks like the heatmap');
  await screenshot(page, 'detector-attention');

  // Boxes follow the score threshold: all at 0, none at 1.
  await page.locator('[data-testid="score-threshold"]').fill('0');
  await painted(page);
  const all = Number(await attr(page, 'data-boxes'));
  const listed = Number(/(\d+)\/(\d+) findings/.exec((await meta.textContent()) ?? '')?.[2]);
  assert.equal(all, listed, 'every finding is boxed at threshold 0');
  await page.locator('[data-testid="score-threshold"]').fill('1');
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-boxes') === '0', overlay);

  // The overlay follows zoom.
  await page.locator('[data-testid="score-threshold"]').fill('0');
  await painted(page);
  const beforeZoom = await canvasStats(page, overlay);
  const box = (await page.locator('[data-testid="viewport"]').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await page.waitForTimeout(100);
  await painted(page);
  const zoomed = await canvasStats(page, overlay);
  assert.notEqual(zoomed.hash, beforeZoom.hash, 'the overlay did not follow the zoom');
  assert.ok(zoomed.opaque > beforeZoom.opaque, 'a zoomed-in map covers more of the view');
  await page.keyboard.press('f');

  // Grad-CAM for the same image.
  await page.locator('[data-testid="overlay-layer"]').selectOption('gradcam');
  await page.waitForFunction((s) => /Grad-CAM/.test(document.querySelector(s)?.textContent ?? ''), '[data-testid="legend"]', { timeout: 120_000 });
  await painted(page);
  const cam = await canvasStats(page, overlay);
  assert.notEqual(cam.hash, att.hash, 'the Grad-CAM overlay looks like the attention map');
  await screenshot(page, 'detector-gradcam');

  // Opacity 0 hides the map but keeps the boxes. (The heatmap, not Grad-CAM: an untrained net's
  // Grad-CAM can be all zero, which draws nothing at any opacity.)
  await page.locator('[data-testid="overlay-layer"]').selectOption('heatmap');
  await painted(page);
  const shownMap = await canvasStats(page, overlay);
  await page.locator('[data-testid="overlay-opacity"]').fill('0');
  await painted(page);
  const hidden = await canvasStats(page, overlay);
  assert.ok(hidden.opaque < shownMap.opaque, `opacity 0 left ${hidden.opaque} drawn pixels of ${shownMap.opaque}`);
  if (all > 0) assert.ok(hidden.opaque > 0, 'the boxes went with the map');
  assert.equal(await attr(page, 'data-boxes'), String(all), 'the boxes stay');

  // "Run on open": the next image opened is analysed without a click.
  await page.locator('[data-testid="overlay-opacity"]').fill('0.5');
  await page.locator('[data-testid="run-on-open"]').check();
  await page.locator('[data-testid="file-input"]').setInputFiles(join(suite.dir, 'second.dcm'));
  await page.waitForFunction(() => document.querySelector('.corner.tr')?.textContent?.includes('second.dcm'), null, { timeout: 30_000 });
  await meta.waitFor({ timeout: 120_000 });
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-overlay') === 'map', overlay);
  await painted(page);
  assert.ok((await canvasStats(page, overlay)).opaque > 0, 'the heatmap of the image opened is drawn');
  await screenshot(page, 'detector-run-on-open');

  assert.deepEqual(page.studioErrors, []);
  await page.context().close();
});
