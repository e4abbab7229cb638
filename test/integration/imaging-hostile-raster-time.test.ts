/**
 * Raster decodes under a time budget, and the detector's own fast decode under the loader's rules.
 * Found by a hunt for hostile files (session 30): a 1 MB tiled TIFF whose 16,384 tile entries all point at
 * one PackBits blob of no-op codes kept sharp busy for 16 s here (4096² for a minute, and a 4 MB file at
 * 10352² for about six), holding a libuv thread the whole time; 16 MB of JPEG tables read again for every
 * tile did the same. And the detector's decode (batch analysis, training, evaluation) used sharp leniently
 * with its default pixel limit: truncated and corrupt files came out as guessed pixels, and a 1.6 MB valid
 * progressive JPEG of 16383² took 2.5 GB, where the viewer refuses all of these.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { StudioError } from '../../preload/contract.ts';
import { decodeForDetector } from '../../main/detector/decode.ts';
import { decodeMaskFile } from '../../main/datasets/decode.ts';
import { DECODE_BUDGET, rasterBudgetSeconds, rasterPipelineBytes } from '../../main/imaging/guard.ts';
import { loadImageBytes } from '../../main/imaging/index.ts';
import { tiffSharedTile } from '../helpers/tiff-shared-tile.ts';

const dir = mkdtempSync(join(tmpdir(), 'raster-time-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const refused = (code: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof StudioError, String(e));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, pattern);
  return true;
};

test('a TIFF that makes the decoder read one blob for every tile is stopped by its time budget, once, not decoded for a minute', { timeout: 30_000 }, async () => {
  const tiff = tiffSharedTile(2048, 2048, 1_000_000);
  assert.ok(tiff.length < 1_200_000, `${tiff.length} bytes`);
  // The budget's fixed part is seconds so a busy machine never stops an honest frame; a smaller one here
  // keeps the test short. Decoded, this file takes about 16 s on the 2-core machine.
  const base = DECODE_BUDGET.rasterBaseMs;
  DECODE_BUDGET.rasterBaseMs = 1_000;
  try {
    const seconds = rasterBudgetSeconds(2048 * 2048);
    const started = performance.now();
    await assert.rejects(loadImageBytes(tiff, 'shared-tile.tif'), refused('DECODE_FAILED', new RegExp(`decoding took more than ${seconds} s`)));
    // A decode stopped for time is not tried again leniently (that would spend the budget twice).
    assert.ok(performance.now() - started < 4 * seconds * 1000 + 3000, `${Math.round(performance.now() - started)} ms`);
    const file = join(dir, 'shared-tile.tif');
    writeFileSync(file, tiff);
    await assert.rejects(decodeMaskFile(file), refused('DECODE_FAILED', /decoding took more than/));
  } finally {
    DECODE_BUDGET.rasterBaseMs = base;
  }
});

test("the detector's decode refuses what the viewer refuses: a JPEG cut short, a PNG with a bad checksum, a header declaring 16383²", async () => {
  const raw = Buffer.alloc(320 * 240 * 3);
  let seed = 7;
  for (let i = 0; i < raw.length; i++) raw[i] = (seed = (seed * 1664525 + 1013904223) >>> 0) >>> 24;
  const jpeg = await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).jpeg().toBuffer();
  const png = await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).png().toBuffer();
  const badCrc = Buffer.from(png);
  // The first IDAT's CRC, flipped.
  const idat = badCrc.indexOf('IDAT', 0, 'latin1');
  const length = badCrc.readUInt32BE(idat - 4);
  badCrc[idat + 4 + length] ^= 0xff;
  const cases: [string, Buffer, string, RegExp][] = [
    ['cut.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'DECODE_FAILED', /truncated or corrupt/],
    ['crc.png', badCrc, 'DECODE_FAILED', /truncated or corrupt/],
    ['huge.jpg', await sharp({ create: { width: 16383, height: 16383, channels: 3, background: '#000' } }).jpeg({ quality: 1 }).toBuffer(), 'TOO_LARGE', /16383x16383/],
  ];
  for (const [name, bytes, code, pattern] of cases) {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    await assert.rejects(loadImageBytes(bytes, name), refused(code, pattern), `the viewer refuses ${name}`);
    await assert.rejects(decodeForDetector(file), refused(code, pattern), `the detector refuses ${name}`);
  }
  // And an honest frame still comes through the fast path.
  const file = join(dir, 'frame.jpg');
  writeFileSync(file, jpeg);
  const { rgb } = await decodeForDetector(file);
  assert.deepEqual([rgb.width, rgb.height, rgb.data.length], [320, 240, 320 * 240 * 3]);
});

test("a progressive JPEG's budget counts the coefficients libjpeg keeps until its last scan", () => {
  const plain = rasterPipelineBytes({ width: 10, height: 10, channels: 3, bits: 8 });
  assert.equal(rasterPipelineBytes({ width: 10, height: 10, channels: 3, bits: 8, decoderBytes: 2 * 4 }), plain + 100 * 8, 'CMYK: 2 bytes for each of 4 components');
});
