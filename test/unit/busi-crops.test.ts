/**
 * Lesion-free crops of lesion images (scripts/busi-lesion-free.ts): the rectangle search finds the largest
 * views that keep the margin from every lesion pixel, never a sliver, never one view twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dilate, largestFreeRects, lesionBand, lesionFreeCrops, sharedShare, type Rect } from '../../scripts/busi-lesion-free.ts';

function maskWith(width: number, height: number, rects: Rect[]): Uint8Array {
  const m = new Uint8Array(width * height);
  for (const r of rects) for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) m[y * width + x] = 1;
  return m;
}

/** The shortest Chebyshev distance from a rectangle to any lesion pixel (Infinity with none). */
function clearance(mask: Uint8Array, width: number, height: number, r: Rect): number {
  let best = Infinity;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      const dx = x < r.x ? r.x - x : x >= r.x + r.w ? x - (r.x + r.w - 1) : 0;
      const dy = y < r.y ? r.y - y : y >= r.y + r.h ? y - (r.y + r.h - 1) : 0;
      best = Math.min(best, Math.max(dx, dy));
    }
  return best;
}

/** Every free rectangle, checked pixel by pixel: the largest area there is. */
function bruteLargest(blocked: Uint8Array, width: number, height: number, minW: number, minH: number): number {
  let best = 0;
  for (let y0 = 0; y0 < height; y0++)
    for (let x0 = 0; x0 < width; x0++)
      for (let y1 = y0 + minH; y1 <= height; y1++)
        for (let x1 = x0 + minW; x1 <= width; x1++) {
          let free = true;
          for (let y = y0; y < y1 && free; y++) for (let x = x0; x < x1 && free; x++) if (blocked[y * width + x]) free = false;
          if (free) best = Math.max(best, (x1 - x0) * (y1 - y0));
        }
  return best;
}

test('an image without a lesion is one crop: the whole image', () => {
  const crops = lesionFreeCrops(new Uint8Array(40 * 30), 40, 30);
  assert.deepEqual(crops[0], { x: 0, y: 0, w: 40, h: 30 });
});

test('a lesion in the middle leaves no frame-like view once its surroundings are excluded: no crop, not a sliver', () => {
  // 100×100, lesion 40..59, margin 15 px: the free bands are 25 px wide, under 45% of a side.
  const mask = maskWith(100, 100, [{ x: 40, y: 40, w: 20, h: 20 }]);
  assert.deepEqual(lesionFreeCrops(mask, 100, 100), []);
  // The same image with a smaller minimum side gets the bands.
  const bands = lesionFreeCrops(mask, 100, 100, { margin: 0.15, minSide: 0.2, perImage: 2, maxShared: 0.5 });
  assert.equal(bands.length, 2);
  for (const r of bands) assert.ok(Math.min(r.w, r.h) === 25 && Math.max(r.w, r.h) === 100, JSON.stringify(r));
});

test('a lesion in a corner: the largest crop is the rest of the image beyond the margin, and keeps that margin', () => {
  // 100×80, lesion at x 80..99, y 60..79; margin 0.15 × 80 = 12 px: blocked from x 68 and y 48.
  const mask = maskWith(100, 80, [{ x: 80, y: 60, w: 20, h: 20 }]);
  const crops = lesionFreeCrops(mask, 100, 80);
  // The left block (68×80) outranks the top band (100×48), which shares 68×48 of its area with it (68%, over the
  // 50% allowed); with more sharing allowed the band comes second.
  assert.deepEqual(crops, [{ x: 0, y: 0, w: 68, h: 80 }]);
  assert.deepEqual(lesionFreeCrops(mask, 100, 80, { margin: 0.15, minSide: 0.45, perImage: 2, maxShared: 0.7 })[1], { x: 0, y: 0, w: 100, h: 48 });
  for (const r of crops) assert.ok(clearance(mask, 100, 80, r) > 12, `crop ${JSON.stringify(r)} keeps 12 px from the lesion`);
});

test('at most the asked number of crops per image, each a whole free view showing at least half new tissue', () => {
  // A lesion across the whole height in the middle: two free blocks either side, 35 px wide beyond the 10 px margin.
  const mask = maskWith(100, 100, [{ x: 45, y: 0, w: 10, h: 100 }]);
  const options = { margin: 0.1, minSide: 0.3, perImage: 2, maxShared: 0.5 };
  const crops = lesionFreeCrops(mask, 100, 100, options);
  assert.deepEqual(crops, [
    { x: 0, y: 0, w: 35, h: 100 },
    { x: 65, y: 0, w: 35, h: 100 },
  ]);
  assert.equal(lesionFreeCrops(mask, 100, 100, { ...options, perImage: 1 }).length, 1);
  // In the corner case the only other whole free view (the top band) repeats too much of the first: one crop.
  const corner = maskWith(100, 80, [{ x: 80, y: 60, w: 20, h: 20 }]);
  assert.equal(lesionFreeCrops(corner, 100, 80, { ...options, margin: 0.15 }).length, 1);
});

test('dilation blocks exactly the pixels within the margin of a lesion pixel (square neighbourhood)', () => {
  const mask = maskWith(9, 9, [{ x: 4, y: 4, w: 1, h: 1 }]);
  const d = dilate(mask, 9, 9, 2);
  for (let y = 0; y < 9; y++) for (let x = 0; x < 9; x++) assert.equal(d[y * 9 + x], Math.abs(x - 4) <= 2 && Math.abs(y - 4) <= 2 ? 1 : 0, `(${x},${y})`);
});

test('on random lesions the first crop is the largest free rectangle a brute-force search finds, and every crop is free', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let trial = 0; trial < 40; trial++) {
    const width = 10 + Math.floor(random() * 10);
    const height = 10 + Math.floor(random() * 10);
    const blobs = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ x: Math.floor(random() * width), y: Math.floor(random() * height), w: 1 + Math.floor(random() * 4), h: 1 + Math.floor(random() * 4) }));
    const mask = maskWith(width, height, blobs.map((b) => ({ ...b, w: Math.min(b.w, width - b.x), h: Math.min(b.h, height - b.y) })));
    const blocked = dilate(mask, width, height, 1);
    const minW = Math.ceil(0.3 * width);
    const minH = Math.ceil(0.3 * height);
    const crops = largestFreeRects(blocked, width, height, { minWidth: minW, minHeight: minH, max: 3, maxShared: 0.5 });
    const best = bruteLargest(blocked, width, height, minW, minH);
    assert.equal(crops.length ? crops[0].w * crops[0].h : 0, best, `trial ${trial}`);
    for (const r of crops) {
      assert.ok(r.w >= minW && r.h >= minH && r.x >= 0 && r.y >= 0 && r.x + r.w <= width && r.y + r.h <= height);
      for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) assert.equal(blocked[y * width + x], 0, `trial ${trial}: ${JSON.stringify(r)} covers a blocked pixel`);
    }
    for (let i = 0; i < crops.length; i++) for (let j = 0; j < i; j++) assert.ok(sharedShare(crops[i], crops[j]) <= 0.5);
  }
});

test('the probe band holds the whole lesion and its margin, at the full width and at least the minimum height', () => {
  // 100×80, lesion y 30..39: margin 12 → 10 + 24 = 34 rows, under 45% of 80 (36), so 36 rows centred on it.
  const mask = maskWith(100, 80, [{ x: 40, y: 30, w: 20, h: 10 }]);
  assert.deepEqual(lesionBand(mask, 100, 80), { x: 0, y: 17, w: 100, h: 36 });
  // A lesion at the bottom edge: the band is moved up to stay inside the image.
  const low = maskWith(100, 80, [{ x: 40, y: 70, w: 20, h: 10 }]);
  assert.deepEqual(lesionBand(low, 100, 80), { x: 0, y: 44, w: 100, h: 36 });
  assert.equal(lesionBand(new Uint8Array(100 * 80), 100, 80), undefined);
});
