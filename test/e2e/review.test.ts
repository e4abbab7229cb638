/**
 * Review in real Chromium against the real host: a store seeded with findings on a generated image (the
 * host opens it from STUDIO_HOME), reviewed with the keyboard (accept, reject, edit with a handle, paint
 * the reader's outline of an edited finding, draw a box, paint a mask, flag, undo, next image, paint the
 * outline of a selected finding to accept it with, no lesion on an image with no finding), then the page
 * reloaded and the decisions seen again, and in the store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { openStore } from '../../main/review/store.ts';
import { type StudioPage, browserSkipReason, screenshot, studioSuite } from './helpers.ts';

const skip = browserSkipReason();
const W = 160, H = 120;
let storeFile: string;
const images: string[] = [];

async function writeImage(path: string, seed: number): Promise<void> {
  const px = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const blob = (x - 40 - seed) ** 2 + (y - 40) ** 2 < 150 || (x - 110) ** 2 + (y - 80) ** 2 < 200;
      const v = blob ? 230 : 40 + ((x + y + seed) % 60);
      px.set([v, v * 0.6, v * 0.5], (y * W + x) * 3);
    }
  }
  await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path);
}

const suite = studioSuite('studio-e2e-review-', async (dir) => {
  storeFile = join(dir, 'review.sqlite');
  for (let i = 0; i < 3; i++) {
    images.push(join(dir, `colon-${i}.png`));
    await writeImage(images[i], i * 7);
  }
  const store = openStore(storeFile);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  store.recordImageFindings(run, { path: images[0], contentHash: 'a'.repeat(64), width: W, height: H }, [
    { box: [28, 28, 54, 52], score: 0.93, area: 450 },
    { box: [96, 66, 126, 94], score: 0.71, area: 620 },
    { box: [60, 90, 80, 110], score: 0.42, area: 200 },
  ]);
  store.recordImageFindings(run, { path: images[1], contentHash: 'b'.repeat(64), width: W, height: H }, [{ box: [30, 28, 60, 54], score: 0.88, area: 460 }]);
  // The model found nothing here: the image waits for a reader's "no lesion" (issue 24).
  store.recordImageFindings(run, { path: images[2], contentHash: 'c'.repeat(64), width: W, height: H }, []);
  store.finishRun(run);
  store.close();
  return { homeDir: dir };
});

async function openReview(page: StudioPage): Promise<void> {
  await page.getByRole('tab', { name: 'Review' }).click();
  await page.locator('[data-testid="review-item"]').first().waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="review-canvas"]')?.getAttribute('data-ready') === 'true', undefined, { timeout: 30_000 });
}

const decisions = (page: StudioPage) => page.locator('[data-testid="review-finding"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.decision));

async function waitDecisions(page: StudioPage, want: string[]): Promise<void> {
  await page.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('[data-testid="review-finding"]')].map((e) => (e as HTMLElement).dataset.decision)) === JSON.stringify(w), want, { timeout: 20_000 });
}

/** Screen point of image pixel (x, y) on the review canvas. */
async function screenOf(page: StudioPage, x: number, y: number): Promise<[number, number]> {
  const c = page.locator('[data-testid="review-canvas"]');
  const rect = (await c.boundingBox())!;
  const d = await c.evaluate((el) => ({ ...(el as HTMLCanvasElement).dataset }));
  return [rect.x + Number(d.ox) + x * Number(d.scale), rect.y + Number(d.oy) + y * Number(d.scale)];
}

async function drag(page: StudioPage, from: [number, number], to: [number, number]): Promise<void> {
  await page.mouse.move(...(await screenOf(page, ...from)));
  await page.mouse.down();
  await page.mouse.move(...(await screenOf(page, (from[0] + to[0]) / 2, (from[1] + to[1]) / 2)), { steps: 3 });
  await page.mouse.move(...(await screenOf(page, ...to)), { steps: 3 });
  await page.mouse.up();
}

test('findings are reviewed with the keyboard, saved at once, and kept across a reload', { skip }, async () => {
  const page = await suite.open();
  await openReview(page);
  assert.equal(await page.locator('[data-testid="review-item"]').count(), 3);
  assert.equal((await page.locator('[data-testid="review-progress"]').textContent())?.trim(), '0 of 3 reviewed');
  const itemState = (id: number) => page.locator(`[data-testid="review-item"][data-image-id="${id}"] [data-testid="review-item-state"]`).textContent();
  assert.equal((await itemState(3))?.trim(), 'waiting for a reader', 'an image with no finding is not done by default');
  assert.deepEqual(await decisions(page), ['pending', 'pending', 'pending']);

  await page.locator('[data-testid="review-reviewer"]').fill('dr-e2e');
  await page.keyboard.press('Escape');
  await screenshot(page, 'review-start');

  // A accepts the selected (highest-scoring) finding and moves on; R rejects the next.
  await page.keyboard.press('a');
  await page.keyboard.press('r');
  await waitDecisions(page, ['accepted', 'rejected', 'pending']);

  // The third is selected now: E, then drag its bottom-right handle 6 px out.
  await page.keyboard.press('e');
  await page.waitForFunction(() => document.querySelector('[data-testid="review-mode"]')?.textContent === 'edit');
  await drag(page, [80, 110], [86, 116]);
  await waitDecisions(page, ['accepted', 'rejected', 'edited']);
  await page.keyboard.press('Escape');

  // M over the selected (edited) finding paints the reader's outline of it: sent with the edited box.
  await page.keyboard.press('m');
  await page.waitForFunction(() => document.querySelector('[data-testid="review-mode"]')?.textContent === 'mask');
  await drag(page, [66, 98], [78, 106]);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /edited finding 3 with your mask/.test(document.querySelector('[data-testid="review-status-line"]')?.textContent ?? ''), undefined, { timeout: 20_000 });
  await waitDecisions(page, ['accepted', 'rejected', 'edited']);

  // B draws a lesion the model missed.
  await page.keyboard.press('b');
  await drag(page, [10, 80], [30, 104]);
  await waitDecisions(page, ['accepted', 'rejected', 'edited', 'added']);

  // M paints a mask with the brush; Enter saves it as an added lesion with its RLE mask.
  await page.keyboard.press('m');
  await page.waitForFunction(() => document.querySelector('[data-testid="review-mode"]')?.textContent === 'mask');
  await drag(page, [120, 20], [140, 30]);
  await page.keyboard.press('Enter');
  await waitDecisions(page, ['accepted', 'rejected', 'edited', 'added', 'added']);

  // F flags the image; Ctrl+Z undoes the flag (the reviewer's last change), not the decisions.
  await page.keyboard.press('f');
  await page.locator('[data-testid="review-flagged"]').waitFor();
  await page.keyboard.press('Control+z');
  await page.locator('[data-testid="review-flagged"]').waitFor({ state: 'detached' });
  await page.waitForFunction(() => /undone/.test(document.querySelector('[data-testid="review-status-line"]')?.textContent ?? ''));
  assert.deepEqual(await decisions(page), ['accepted', 'rejected', 'edited', 'added', 'added']);
  await page.waitForFunction(() => document.querySelector('[data-testid="review-progress"]')?.textContent?.trim() === '1 of 3 reviewed');

  // → goes to the next image; A accepts its finding.
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => /colon-1\.png/.test(document.querySelector('[data-testid="review-image-name"]')?.textContent ?? ''));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="review-finding"]').length === 1);
  // Its finding is selected: M paints the reader's outline of it (once the image's pixels are on screen), and
  // Enter accepts it with that mask.
  await page.locator('[data-testid="review-mask-button"]:not([disabled])').waitFor();
  await page.keyboard.press('m');
  await page.waitForFunction(() => document.querySelector('[data-testid="review-mode"]')?.textContent === 'mask');
  await drag(page, [38, 36], [52, 46]);
  await page.keyboard.press('Enter');
  await waitDecisions(page, ['accepted']);
  await page.waitForFunction(() => document.querySelector('[data-testid="review-finding-mask"]')?.textContent === ' · your mask', undefined, { timeout: 20_000 });
  await screenshot(page, 'review-your-mask');
  await page.waitForFunction(() => document.querySelector('[data-testid="review-progress"]')?.textContent?.trim() === '2 of 3 reviewed');

  // → goes to the image with no finding; N says it has no lesion, Ctrl+Z takes that back, N again.
  const progress = (want: string) => page.waitForFunction((w) => document.querySelector('[data-testid="review-progress"]')?.textContent?.trim() === w, want, { timeout: 20_000 });
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => /colon-2\.png/.test(document.querySelector('[data-testid="review-image-name"]')?.textContent ?? ''));
  await page.locator('[data-testid="review-no-lesion-button"]').filter({ hasText: 'No lesion (N)' }).waitFor();
  await page.keyboard.press('n');
  await page.locator('[data-testid="review-no-lesion"]').waitFor();
  await progress('3 of 3 reviewed');
  assert.equal((await itemState(3))?.trim(), 'no lesion');
  await page.keyboard.press('Control+z');
  await page.locator('[data-testid="review-no-lesion"]').waitFor({ state: 'detached' });
  await progress('2 of 3 reviewed');
  await page.keyboard.press('n');
  await progress('3 of 3 reviewed');
  await screenshot(page, 'review-done');

  // Everything is in the store already (read through another connection while the host holds it open).
  const store = openStore(storeFile);
  const first = store.findings(1).findings;
  assert.deepEqual(first.map((f) => [f.decision, f.reviewer]), [['accepted', 'dr-e2e'], ['rejected', 'dr-e2e'], ['edited', 'dr-e2e'], ['added', 'dr-e2e'], ['added', 'dr-e2e']]);
  assert.deepEqual(first[2].box, [60, 90, 86, 116], 'the edited box is where the handle was dropped, kept with the outline');
  assert.equal(first[2].maskBy, 'reader', 'the edited finding carries the reader’s outline');
  assert.deepEqual(first[3].box, [10, 80, 30, 104], 'the drawn box');
  const painted = first[4];
  assert.ok(painted.mask, 'the painted lesion has its mask');
  assert.deepEqual(painted.mask!.size, [H, W]);
  const area = painted.mask!.counts.reduce((a, c, i) => (i % 2 ? a + c : a), 0);
  assert.ok(area > 150, `a brushed stroke covers pixels (${area})`);
  const [bx0, by0, bx1, by1] = painted.box;
  assert.ok(bx0 <= 120 && by0 <= 20 && bx1 >= 140 && by1 >= 30 && bx1 - bx0 < 40, `the mask's box ${painted.box} surrounds the stroke`);
  assert.equal(store.findings(1).flagged, false);
  // The finding of the second image, accepted with the outline painted over it.
  const [outlined] = store.findings(2).findings;
  assert.deepEqual([outlined.decision, outlined.reviewer, outlined.maskBy, outlined.box], ['accepted', 'dr-e2e', 'reader', [30, 28, 60, 54]]);
  const outlineArea = outlined.mask!.counts.reduce((a, c, i) => (i % 2 ? a + c : a), 0);
  assert.ok(outlineArea > 150 && outlineArea < 30 * 26, `the outline is the stroke (${outlineArea} px), not the box`);
  assert.deepEqual(store.reviewRows().find((r) => r.finding.id === outlined.id)!.effective.mask, outlined.mask, 'and it is what trains and exports');
  assert.deepEqual(store.auditTrail({ who: 'dr-e2e' }).map((e) => e.action), ['decide', 'decide', 'decide', 'decide', 'add', 'add', 'flag', 'undo', 'decide', 'decide', 'undo', 'decide']);
  assert.deepEqual(store.findings(3).noLesion, ['dr-e2e']);
  store.close();

  // Reload: the decisions come back from the store.
  await page.reload();
  await page.locator('[data-testid="viewport"]').waitFor({ timeout: 30_000 });
  await openReview(page);
  assert.equal((await page.locator('[data-testid="review-progress"]').textContent())?.trim(), '3 of 3 reviewed');
  await page.locator('[data-testid="review-item"][data-image-id="1"]').click();
  await waitDecisions(page, ['accepted', 'rejected', 'edited', 'added', 'added']);
  assert.equal(await page.locator('[data-testid="review-reviewer"]').inputValue(), 'dr-e2e', 'the reviewer name is remembered');
  await screenshot(page, 'review-reloaded');
  assert.deepEqual(page.studioErrors, []);
  assert.deepEqual(suite.host.logs.filter((l) => /failed/.test(l)), []);
});
