/** What `studio analyze` writes: probability PNG bytes, overlay boxes, CSV rows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CSV_HEADER, csvRows, mapToGrey, writeGreyPng, writeMapPng, writeOverlayPng } from '../../main/batch/outputs.ts';

const tmp = mkdtempSync(join(tmpdir(), 'batch-outputs-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('a probability map becomes an 8-bit greyscale PNG at the image size, 0 → 0 and 1 → 255', async () => {
  const map = { width: 2, height: 1, data: new Float32Array([0, 1]) };
  const grey = await mapToGrey(map, 40, 10);
  assert.equal(grey.length, 400);
  assert.equal(grey[5 * 40 + 0], 0, 'left edge is the 0 cell');
  assert.equal(grey[5 * 40 + 39], 255, 'right edge is the 1 cell');
  const file = join(tmp, 'heat.png');
  await writeGreyPng(grey, 40, 10, file);
  assert.equal((await sharp(file).metadata()).channels, 1);
  const { data, info } = await sharp(file).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [40, 10, 1]);
  assert.deepEqual(Array.from(data), Array.from(grey));
});

test('writing a map straight to PNG gives the same pixels as mapToGrey then writeGreyPng', async () => {
  const map = { width: 17, height: 11, data: Float32Array.from({ length: 17 * 11 }, (_, k) => Math.sin(k * 0.7) * 0.6 + 0.45) };
  await writeGreyPng(await mapToGrey(map, 123, 77), 123, 77, join(tmp, 'two-step.png'));
  await writeMapPng(map, 123, 77, join(tmp, 'one-step.png'));
  const m = await sharp(join(tmp, 'one-step.png')).metadata();
  assert.deepEqual([m.width, m.height, m.channels], [123, 77, 1]);
  const a = await sharp(join(tmp, 'two-step.png')).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const b = await sharp(join(tmp, 'one-step.png')).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.ok(a.data.equals(b.data));
});

test('the overlay blends every heat and pixel value exactly as src × (1 − a) + ramp × a', async () => {
  // One pixel per (heat, value) pair: the lookup tables must equal the float formula everywhere.
  const width = 256;
  const height = 256;
  const image = { width, height, data: new Uint8Array(width * height * 3) };
  const heat = new Uint8Array(width * height);
  for (let h = 0; h < 256; h++) {
    for (let v = 0; v < 256; v++) {
      const i = h * 256 + v;
      heat[i] = h;
      image.data.set([v, 255 - v, (v * 7) & 255], i * 3);
    }
  }
  const file = join(tmp, 'blend.png');
  await writeOverlayPng(image, heat, [], file);
  const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const want = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const p = heat[i] / 255;
    const a = p < 0.1 ? 0 : 0.6 * p;
    const ramp = [Math.min(1, p * 3), Math.min(1, Math.max(0, p * 3 - 1)), Math.min(1, Math.max(0, p * 3 - 2))];
    for (let c = 0; c < 3; c++) want[i * 3 + c] = image.data[i * 3 + c] * Math.fround(1 - a) + Math.fround(ramp[c] * 255 * a);
  }
  for (let i = 0; i < want.length; i++) if (data[i] !== want[i]) assert.fail(`pixel ${Math.floor(i / 3)} channel ${i % 3}: ${data[i]} vs ${want[i]}`);
});

test('the overlay keeps low-probability pixels as they are, tints high ones and draws each box', async () => {
  const width = 60;
  const height = 40;
  const image = { width, height, data: new Uint8Array(width * height * 3).fill(100) };
  const heat = new Uint8Array(width * height);
  heat.fill(255, 0, width); // the first row: certain lesion
  const file = join(tmp, 'overlay.png');
  await writeOverlayPng(image, heat, [{ box: [20, 10, 40, 30], score: 0.9, area: 400 }], file);
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [width, height, 3]);
  const px = (x: number, y: number) => Array.from(data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
  assert.deepEqual(px(5, 35), [100, 100, 100], 'untouched');
  assert.ok(px(5, 0)[0] > 150, 'tinted toward hot colours');
  assert.deepEqual(px(30, 10), [0, 255, 0], 'box edge');
  assert.deepEqual(px(30, 20), [100, 100, 100], 'box inside is not filled');
});

test('CSV rows: one per finding, one empty row for an image without findings, fields quoted when needed, the mismatch last', () => {
  assert.equal(CSV_HEADER.split(',').length, 13);
  const base = { image: '/data/a,b "x".png', width: 10, height: 20, model: 'm', backend: 'wasm' };
  assert.deepEqual(csvRows({ ...base, findings: [] }), ['"/data/a,b ""x"".png",10,20,m,wasm,,,,,,,,']);
  const rows = csvRows({ ...base, findings: [{ box: [1, 2, 3, 4], score: 0.91234, area: 4 }, { box: [5, 6, 7, 8], score: 0.6, area: 4 }] });
  assert.equal(rows.length, 2);
  assert.equal(rows[1], '"/data/a,b ""x"".png",10,20,m,wasm,2,5,6,7,8,0.6000,4,');
  for (const r of rows) assert.equal(r.replace(/"[^"]*(""[^"]*)*"/g, 'Q').split(',').length, 13);
  const marked = csvRows({ ...base, findings: [{ box: [1, 2, 3, 4], score: 0.9, area: 4 }], mismatch: 'm is a model for colonoscopy frames; this image is a CT, so its findings here mean nothing' });
  assert.match(marked[0], /,"?m is a model for colonoscopy frames; this image is a CT, so its findings here mean nothing"?$/);
});
