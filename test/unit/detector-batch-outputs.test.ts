/** What `studio analyze` writes: probability PNG bytes, overlay boxes, CSV rows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CSV_HEADER, csvRows, mapToGrey, writeGreyPng, writeOverlayPng } from '../../main/batch/outputs.ts';

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

test('CSV rows: one per finding, one empty row for an image without findings, fields quoted when needed', () => {
  assert.equal(CSV_HEADER.split(',').length, 12);
  const base = { image: '/data/a,b "x".png', width: 10, height: 20, model: 'm', backend: 'wasm' };
  assert.deepEqual(csvRows({ ...base, findings: [] }), ['"/data/a,b ""x"".png",10,20,m,wasm,,,,,,,']);
  const rows = csvRows({ ...base, findings: [{ box: [1, 2, 3, 4], score: 0.91234, area: 4 }, { box: [5, 6, 7, 8], score: 0.6, area: 4 }] });
  assert.equal(rows.length, 2);
  assert.equal(rows[1], '"/data/a,b ""x"".png",10,20,m,wasm,2,5,6,7,8,0.6000,4');
  for (const r of rows) assert.equal(r.replace(/"[^"]*(""[^"]*)*"/g, 'Q').split(',').length, 12);
});
