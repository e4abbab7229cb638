/**
 * The Training and Compare panels in real Chromium against the browser host: start a run and watch it
 * finish with its curves and its model listed; compare two models and read the metric table and FROC
 * plot. Models here are tiny and barely trained: the test is about the panels and the plumbing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveModel } from '../../main/detector/io.ts';
import { buildModel } from '../../main/detector/model.ts';
import { browserSkipReason, screenshot, studioSuite } from '../e2e/helpers.ts';
import { makeDiscDataset } from './training-fixtures.ts';

const skip = browserSkipReason();
let data: string;

const suite = studioSuite('studio-panels-', async (dir) => {
  data = join(dir, 'discs');
  await makeDiscDataset(data, 20);
  const modelsDir = join(dir, 'models');
  for (const variant of ['baseline', 'cbam'] as const) {
    await saveModel(buildModel({ variant, inputSize: 64, priorProbability: 0.5 }), join(modelsDir, `panel-${variant}`), { name: `panel-${variant}`, variant, inputSize: 64, data: { path: data } });
  }
  return { modelsDir };
});

test('the Compare panel evaluates two models on one split and shows the metric table and FROC curves', { skip }, async () => {
  const page = await suite.open();
  await page.getByRole('tab', { name: 'Compare' }).click();
  const picks = page.getByLabel('models to compare');
  await picks.getByText('panel-baseline').click();
  await picks.getByText('panel-cbam').click();
  await page.getByLabel('data folder').fill(data);
  await page.locator('[data-testid="compare-run"]').click();
  const rows = page.locator('[data-testid="compare-table"] tbody tr');
  await rows.first().waitFor({ timeout: 180_000 });
  assert.equal(await rows.count(), 2);
  assert.deepEqual(await rows.locator('td:first-child').allTextContents(), ['panel-baseline', 'panel-cbam']);
  const froc = page.getByRole('img', { name: 'FROC curves' });
  assert.equal(await froc.locator('polyline').count(), 2, 'one FROC curve per model');
  // The picked models' cards, at once: these untrained test models have no metrics and no supervision.
  assert.match((await page.locator('[data-testid="card-panel-cbam"]').textContent()) ?? '', /unsupervised/);
  assert.match((await page.locator('[data-testid="card-panel-baseline"]').textContent()) ?? '', /none/);
  await screenshot(page, 'compare-panel');
  assert.deepEqual(page.studioErrors, []);
});

test('the Training panel starts a run, shows live progress and curves, and lists the finished model', { skip }, async () => {
  const page = await suite.open();
  await page.getByRole('tab', { name: 'Training' }).click();
  await page.getByLabel('model name').fill('panel-trained');
  await page.getByLabel('dataset folder').fill(data);
  // Attention supervision is offered for variants with a spatial gate, at the default weight, and only there.
  await page.getByLabel('variant').selectOption('cbam');
  assert.equal(await page.getByLabel('attention supervision weight').inputValue(), '0.5');
  await page.getByLabel('variant').selectOption('baseline');
  assert.equal(await page.getByLabel('attention supervision weight').count(), 0);
  // The augmentation preset defaults to the shipped models' one; this run takes the strong one.
  assert.equal(await page.getByLabel('augmentation').inputValue(), 'standard');
  await page.getByLabel('augmentation').selectOption('strong');
  await page.getByLabel('epochs').fill('2');
  await page.getByLabel('batch size').fill('4');
  await page.getByLabel('input size').selectOption('64');
  await page.locator('[data-testid="training-start"]').click();
  const status = page.locator('[data-testid="run-status"]');
  await status.waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.getAttribute('data-state') === 'finished', null, { timeout: 180_000 });
  assert.match((await status.textContent()) ?? '', /epoch 2\/2/);
  const charts = page.locator('[data-testid="training-charts"] svg');
  assert.equal(await charts.count(), 2);
  assert.ok((await page.getByRole('img', { name: 'training loss' }).locator('polyline').count()) >= 1, 'a loss curve is drawn');
  assert.ok((await page.getByRole('img', { name: 'validation metrics' }).locator('polyline').count()) >= 1, 'validation curves are drawn');
  await page.locator('[data-testid="training-models"]').getByText('panel-trained').waitFor({ timeout: 10_000 });
  const card = JSON.parse(readFileSync(join(suite.dir, 'models', 'panel-trained', 'card.json'), 'utf8'));
  assert.equal(card.hyperparameters.augmentationPreset, 'strong', 'the preset picked in the panel reached the trainer');
  assert.match(card.hyperparameters.augmentation, /shift ±12%/);
  await screenshot(page, 'training-panel');
  assert.deepEqual(page.studioErrors, []);
});
