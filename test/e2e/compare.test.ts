/**
 * Side-by-side overlays in the Compare panel, in real Chromium: two models of different variants run on
 * the same image, each pane paints its own overlay, the baseline says it has no attention instead of
 * showing nothing, and zoom, pan and window move every pane together. The models are built here
 * (untrained, output bias raised so heatmaps and boxes are not empty): the test is about the studio's
 * plumbing and drawing, not the models' skill.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { saveModel } from '../../main/detector/io.ts';
import { buildModel } from '../../main/detector/model.ts';
import { phantom, writeDicom } from './dicom-fixture.ts';
import { browserSkipReason, canvasStats, painted, screenshot, studioSuite } from './helpers.ts';

const skip = browserSkipReason();

const suite = studioSuite('studio-e2e-compare-', async (dir) => {
  const modelsDir = join(dir, 'models');
  for (const variant of ['baseline', 'cbam', 'se', 'nonlocal'] as const) {
    const name = `e2e-${variant}`;
    await saveModel(buildModel({ variant, inputSize: 128, priorProbability: 0.6 }), join(modelsDir, name), { name, variant, inputSize: 128 });
  }
  writeFileSync(join(dir, 'phantom.dcm'), writeDicom({ rows: 256, columns: 320, pixels: phantom(256, 320).pixels, window: { center: 40, width: 400 } }));
  return { modelsDir };
});

const image = (i: number) => `[data-testid="sbs-image-${i}"]`;
const overlay = (i: number) => `[data-testid="sbs-overlay-${i}"]`;
const attr = (page: Page, selector: string, name: string) => page.locator(selector).getAttribute(name);

async function center(page: Page, i: number): Promise<{ x: number; y: number }> {
  const b = (await page.locator(`[data-testid="sbs-view-${i}"]`).boundingBox())!;
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

test('two models side by side paint their own overlays on one image, and zoom, pan and window move both panes together', { skip }, async (t) => {
  const page = await suite.open({ width: 1440, height: 1000 });
  await page.getByRole('tab', { name: 'Compare' }).click();
  const section = page.locator('[data-testid="side-by-side"]');
  await section.waitFor({ timeout: 30_000 });

  // Both models are offered and picked; the image comes from a file opened here.
  await page.locator('[data-testid="sbs-pick-e2e-baseline"]').waitFor();
  await page.locator('[data-testid="sbs-pick-e2e-baseline"]').check();
  await page.locator('[data-testid="sbs-pick-e2e-cbam"]').check();
  await page.locator('[data-testid="sbs-file-input"]').setInputFiles(join(suite.dir, 'phantom.dcm'));
  for (const i of [0, 1]) await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-voi'), image(i), { timeout: 30_000 });
  assert.match((await page.locator('[data-testid="sbs-image-select"]').textContent()) ?? '', /phantom\.dcm/);
  const panes = await page.locator('[data-testid^="sbs-pane-"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.model));
  assert.deepEqual([...panes].sort(), ['e2e-baseline', 'e2e-cbam']);
  const baseline = panes.indexOf('e2e-baseline');
  const cbam = panes.indexOf('e2e-cbam');

  await section.scrollIntoViewIfNeeded();
  await painted(page);
  const bare = await canvasStats(page, image(0));
  assert.ok(bare.nonBlack > 0, 'the image is drawn');
  assert.equal((await canvasStats(page, image(1))).hash, bare.hash, 'both panes show the same image the same way');
  for (const i of [0, 1]) assert.equal((await canvasStats(page, overlay(i))).opaque, 0, 'nothing is overlaid before a run');

  // Run both: each pane gets its model's heatmap and header.
  await page.locator('[data-testid="sbs-run"]').click();
  for (const i of [0, 1]) {
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-status') === 'done', `[data-testid="sbs-pane-${i}"]`, { timeout: 180_000 });
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-overlay') === 'map', overlay(i));
  }
  await page.locator('[data-testid="sbs-threshold"]').fill('0');
  await painted(page);
  const heat = [await canvasStats(page, overlay(0)), await canvasStats(page, overlay(1))];
  for (const i of [0, 1]) {
    assert.ok(heat[i].opaque > 0, `pane ${i} paints no heatmap`);
    const head = (await page.locator(`[data-testid="sbs-pane-${i}"] .sbs-pane-head`).textContent()) ?? '';
    assert.match(head, new RegExp(panes[i]!));
    assert.match(head, i === baseline ? /baseline/ : /cbam/);
    assert.match(head, /(wasm|cpu|tensorflow|onnxruntime)/, `backend shown: ${head}`);
    assert.match(head, /\d+ ms/);
    assert.match(head, /\d+\/\d+ findings/);
    assert.equal(await attr(page, overlay(i), 'data-boxes'), /(\d+)\/(\d+) findings/.exec(head)![2], 'every finding is boxed at threshold 0');
    t.diagnostic(`pane ${i}: ${head}`);
  }
  assert.notEqual(heat[0].hash, heat[1].hash, 'the two models painted the same overlay');
  assert.equal((await canvasStats(page, image(0))).hash, bare.hash, 'the image layer is untouched by the overlay');
  await screenshot(page, 'compare-sbs-heatmap');

  // The supervised spatial gate (the one nearest the output): CBAM shows its decoder gate, the baseline says it has none.
  await page.locator('[data-testid="sbs-layer"]').selectOption('supervised');
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-overlay') === 'none', overlay(baseline));
  assert.match((await page.locator(`[data-testid="sbs-note-${baseline}"]`).textContent()) ?? '', /baseline: no attention module/);
  assert.match((await page.locator(`[data-testid="sbs-legend-${cbam}"]`).textContent()) ?? '', /decoder\/cbam_spatial8/);
  await painted(page);
  const att = await canvasStats(page, overlay(cbam));
  assert.notEqual(att.hash, heat[cbam].hash, 'the attention map looks like the heatmap');
  await screenshot(page, 'compare-sbs-attention');

  // Zoom with the wheel in one pane: the other follows, pixel for pixel.
  await page.locator('[data-testid="sbs-layer"]').selectOption('heatmap');
  const zoom0 = Number(await attr(page, image(1), 'data-zoom'));
  const c0 = await center(page, 0);
  await page.mouse.move(c0.x + 30, c0.y + 20);
  await page.mouse.wheel(0, -400);
  await page.waitForFunction(([a, z]) => Number(document.querySelector(a)?.getAttribute('data-zoom')) > z * 1.5, [image(1), zoom0] as const);
  await painted(page);
  assert.equal(await attr(page, image(1), 'data-zoom'), await attr(page, image(0), 'data-zoom'), 'pane 2 did not follow the zoom');
  const zoomed = [await canvasStats(page, image(0)), await canvasStats(page, image(1))];
  assert.notEqual(zoomed[0].hash, bare.hash, 'the zoom changed nothing');
  assert.equal(zoomed[1].hash, zoomed[0].hash, 'the panes show different parts of the image after zooming');
  assert.notEqual((await canvasStats(page, overlay(1))).hash, heat[1].hash, "pane 2's overlay did not follow the zoom");
  assert.match((await page.locator('[data-testid="sbs-zoom"]').textContent()) ?? '', /\d+%/);

  // Drag in the other pane: both pan.
  const c1 = await center(page, 1);
  await page.mouse.move(c1.x, c1.y);
  await page.mouse.down();
  await page.mouse.move(c1.x + 40, c1.y + 25, { steps: 4 });
  await page.mouse.up();
  await painted(page);
  await painted(page);
  const panned = [await canvasStats(page, image(0)), await canvasStats(page, image(1))];
  assert.notEqual(panned[0].hash, zoomed[0].hash, 'pane 1 did not follow the pan');
  assert.equal(panned[0].hash, panned[1].hash, 'the panes differ after panning');
  await screenshot(page, 'compare-sbs-zoomed');

  // Window/level dragged in one pane is set on both.
  await section.getByRole('button', { name: 'W/L' }).click();
  const voi = await attr(page, image(1), 'data-voi');
  await page.mouse.move(c0.x, c0.y);
  await page.mouse.down();
  await page.mouse.move(c0.x + 80, c0.y - 60, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(([s, v]) => document.querySelector(s)?.getAttribute('data-voi') !== v, [image(1), voi] as const);
  await painted(page);
  assert.equal(await attr(page, image(1), 'data-voi'), await attr(page, image(0), 'data-voi'), 'the window differs between panes');
  assert.equal((await canvasStats(page, image(1))).hash, (await canvasStats(page, image(0))).hash);

  // Fit brings both back together.
  await page.locator('[data-testid="sbs-fit"]').click();
  await painted(page);
  assert.equal(await attr(page, image(1), 'data-zoom'), zoom0.toFixed(4));
  assert.equal(await attr(page, image(0), 'data-zoom'), zoom0.toFixed(4));

  // Grad-CAM for both models on the same image.
  await page.locator('[data-testid="sbs-layer"]').selectOption('gradcam');
  for (const i of [0, 1]) await page.waitForFunction((s) => /Grad-CAM/.test(document.querySelector(s)?.textContent ?? ''), `[data-testid="sbs-legend-${i}"]`, { timeout: 180_000 });
  await painted(page);
  await screenshot(page, 'compare-sbs-gradcam');

  assert.deepEqual(page.studioErrors, []);
  await page.context().close();
});

test('four variants side by side: each pane finds its own non-local map or says its variant has none', { skip }, async () => {
  const page = await suite.open({ width: 1440, height: 1000 });
  await page.getByRole('tab', { name: 'Compare' }).click();
  await page.locator('[data-testid="sbs-pick-e2e-se"]').waitFor({ timeout: 30_000 });
  // The image opened by the first test is still open in the studio: the list offers it.
  await page.waitForFunction(() => /phantom\.dcm/.test(document.querySelector('[data-testid="sbs-image-select"]')?.textContent ?? ''), null, { timeout: 30_000 });
  for (const v of ['baseline', 'cbam', 'se', 'nonlocal']) await page.locator(`[data-testid="sbs-pick-e2e-${v}"]`).check();
  const panes = await page.locator('[data-testid^="sbs-pane-"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.model!));
  assert.equal(panes.length, 4);
  await page.locator('[data-testid="sbs-layer"]').selectOption('nonlocal');
  await page.locator('[data-testid="sbs-run"]').click();
  for (let i = 0; i < 4; i++) await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-status') === 'done', `[data-testid="sbs-pane-${i}"]`, { timeout: 180_000 });
  await painted(page);
  const notes: Record<string, string> = { 'e2e-baseline': 'baseline: no attention module', 'e2e-se': 'se: no non-local attention', 'e2e-cbam': 'cbam: no non-local attention' };
  for (const [i, model] of panes.entries()) {
    if (model === 'e2e-nonlocal') {
      assert.equal(await attr(page, overlay(i), 'data-overlay'), 'map', 'the non-local model shows its map');
      assert.match((await page.locator(`[data-testid="sbs-legend-${i}"]`).textContent()) ?? '', /nonlocal/);
    } else {
      assert.equal(await attr(page, overlay(i), 'data-overlay'), 'none', `${model} drew a map it does not have`);
      assert.match((await page.locator(`[data-testid="sbs-note-${i}"]`).textContent()) ?? '', new RegExp(notes[model]!));
    }
  }
  await page.locator('[data-testid="side-by-side"]').scrollIntoViewIfNeeded();
  await screenshot(page, 'compare-sbs-four-variants');
  assert.deepEqual(page.studioErrors, []);
  await page.context().close();
});
