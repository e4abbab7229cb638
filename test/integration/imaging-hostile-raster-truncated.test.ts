/**
 * Issue 25, item 4: a Kvasir JPEG cut to a third opened at full size (sharp with failOn 'none' fills in
 * what is missing) and `studio analyze` reported findings on it. Truncated or corrupt rasters are now
 * refused with "the file is truncated or corrupt: …", while quirks that leave the pixels intact still
 * open: a TIFF declaring MinIsBlack with 3 samples (FACTS.md), extraneous bytes before a JPEG's EOI.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { StudioError } from '../../preload/contract.ts';
import { loadImageBytes, loadImageFile } from '../../main/imaging/index.ts';
import { referenceData } from '../../main/settings.ts';

const data = referenceData('hostile/raster');
const skip = 'skip' in data ? `${data.skip} (the hostile reproducers of issue 25)` : false;

const corrupt = (file: string) => (e: unknown) => {
  assert.ok(e instanceof StudioError, String(e));
  assert.equal(e.code, 'DECODE_FAILED');
  assert.ok(e.message.startsWith(`${file}: `), e.message);
  assert.match(e.message, /the file is truncated or corrupt: /);
  return true;
};

/** A 320x240 RGB image with noise, so its compressed data are long and spread over the whole picture. */
async function noisy(): Promise<Sharp> {
  const raw = Buffer.alloc(320 * 240 * 3);
  let s = 25;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    raw[i] = (i % 960) / 4 + (s >>> 28);
  }
  return sharp(raw, { raw: { width: 320, height: 240, channels: 3 } });
}

test('the Kvasir frame cut to a third is refused, not opened at full size', { skip }, async () => {
  if ('skip' in data) return;
  const path = join(data.dir, 'truncated.jpg');
  await assert.rejects(loadImageFile(path), corrupt(path));
});

test('JPEGs and PNGs cut short or damaged inside their compressed data are refused', async () => {
  const jpeg = await (await noisy()).jpeg({ quality: 90 }).toBuffer();
  const png = await (await noisy()).png().toBuffer();
  // intact files open
  assert.equal((await loadImageBytes(jpeg, 'intact.jpg')).info.columns, 320);
  assert.equal((await loadImageBytes(png, 'intact.png')).info.columns, 320);
  await assert.rejects(loadImageBytes(jpeg.subarray(0, Math.floor(jpeg.length / 3)), 'third.jpg'), corrupt('third.jpg'));
  await assert.rejects(loadImageBytes(png.subarray(0, Math.floor(png.length * 0.9)), 'cut.png'), corrupt('cut.png'));
  // noise written over part of the JPEG's scan: libjpeg warns "premature end of data segment" and guesses
  const scan = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  const garbled = Buffer.from(jpeg);
  for (let k = 0; k < 64; k++) garbled[scan + 2000 + k] = (k * 73) & 0xff;
  await assert.rejects(loadImageBytes(garbled, 'garbled.jpg'), corrupt('garbled.jpg'));
  // one flipped bit inside a PNG's IDAT: its CRC no longer matches
  const idat = png.indexOf(Buffer.from('IDAT'));
  const flipped = Buffer.from(png);
  flipped[idat + 500] ^= 0x10;
  await assert.rejects(loadImageBytes(flipped, 'flipped.png'), corrupt('flipped.png'));
});

/** An uncompressed little-endian TIFF of `width` x `height` with `samples` 8-bit samples per pixel. */
function tiff(width: number, height: number, samples: number, photometric: number): Uint8Array {
  const entries = 10;
  const ifdSize = 2 + entries * 12 + 4;
  const bitsAt = 8 + ifdSize;
  const dataAt = bitsAt + 8;
  const pixels = width * height * samples;
  const bytes = new Uint8Array(dataAt + pixels);
  const view = new DataView(bytes.buffer);
  bytes.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  view.setUint16(8, entries, true);
  const tags = [
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, samples, samples > 2 ? bitsAt : 8],
    [259, 3, 1, 1],
    [262, 3, 1, photometric],
    [273, 4, 1, dataAt],
    [277, 3, 1, samples],
    [278, 4, 1, height],
    [279, 4, 1, pixels],
    [284, 3, 1, 1],
  ];
  tags.forEach(([tag, type, count, value], i) => {
    const e = 10 + i * 12;
    view.setUint16(e, tag, true);
    view.setUint16(e + 2, type, true);
    view.setUint32(e + 4, count, true);
    if (type === 3 && count <= 2) view.setUint16(e + 8, value, true);
    else view.setUint32(e + 8, value, true);
  });
  for (let k = 0; k < samples; k++) view.setUint16(bitsAt + 2 * k, 8, true);
  for (let i = 0; i < pixels; i++) bytes[dataAt + i] = (i * 37) & 0xff;
  return bytes;
}

test('files with warnings that leave the pixels intact still open: MinIsBlack with 3 samples, junk before EOI', async () => {
  const minIsBlack3 = tiff(4, 3, 3, 1);
  await assert.rejects(sharp(Buffer.from(minIsBlack3), { failOn: 'warning' }).raw().toBuffer(), /ExtraSamples/);
  const odd = await loadImageBytes(minIsBlack3, 'minisblack-3-samples.tif');
  assert.deepEqual([odd.info.columns, odd.info.rows], [4, 3]);
  const stored = await odd.stored(0);
  assert.equal(stored.data.length, odd.info.channels === 3 ? 36 : 12);
  // A progressive JPEG with junk after its last scan: libjpeg warns "Corrupt JPEG data: 98 extraneous bytes
  // before marker 0xd9", but every pixel was decoded.
  const jpeg = await (await noisy()).jpeg({ progressive: true }).toBuffer();
  const padded = Buffer.concat([jpeg.subarray(0, jpeg.length - 2), Buffer.alloc(100, 0x20), Buffer.from([0xff, 0xd9])]);
  await assert.rejects(sharp(padded, { failOn: 'warning' }).raw().toBuffer(), /extraneous bytes before marker 0xd9/);
  assert.equal((await loadImageBytes(padded, 'padded.jpg')).info.columns, 320);
});
