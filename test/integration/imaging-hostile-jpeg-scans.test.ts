/**
 * A small JPEG made of thousands of empty scans: each costs a decoder a pass over every block of the image,
 * and libjpeg reads every scan before it returns a row, so no time limit inside sharp can stop it. Before
 * this guard a 650 KB file of 4096x4000 with 20,000 scans kept the raster loader busy for 52 s (and its
 * libuv thread with it); a few MB more, for many minutes. Streams are now counted from their markers first,
 * in the raster loader, the detector's fast decode, a DICOM JPEG frame, a TIFF's JPEG tiles and a dataset's
 * mask files alike.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { StudioError } from '../../preload/contract.ts';
import { decodeForDetector } from '../../main/detector/decode.ts';
import { decodeFrameGuarded, stopDecoder } from '../../main/imaging/codecs/guarded.ts';
import { MAX_JPEG_SCANS, jpegStructure } from '../../main/imaging/codecs/headers.ts';
import { TS } from '../../main/imaging/dicom/uids.ts';
import { loadImageBytes, loadImageFile } from '../../main/imaging/index.ts';
import { jpegScanBomb, tiffAroundJpeg } from '../helpers/jpeg-scan-bomb.ts';
import { decodeSample } from '../../main/datasets/index.ts';
import { planTraining } from '../../main/datasets/plan.ts';

const dir = mkdtempSync(join(tmpdir(), 'jpeg-scans-'));
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stopDecoder();
});

const tooManyScans = (e: unknown) => {
  assert.ok(e instanceof StudioError, String(e));
  assert.equal(e.code, 'DECODE_FAILED');
  assert.match(e.message, new RegExp(`more than ${MAX_JPEG_SCANS} scans`));
  return true;
};

// Decoded, the bomb takes the better part of a minute here: a refusal within the test's timeout was not decoded.
test('a 770 KB progressive JPEG of 20,000 empty scans is refused from its markers, by the viewer and the detector alike', { timeout: 20_000 }, async () => {
  const bomb = jpegScanBomb(4096, 4000, 20_000);
  assert.ok(bomb.length < 800_000, `${bomb.length} bytes`);
  await assert.rejects(loadImageBytes(bomb, 'scans.jpg'), tooManyScans);
  const file = join(dir, 'scans.jpg');
  writeFileSync(file, bomb);
  await assert.rejects(loadImageFile(file), tooManyScans);
  // Batch analysis, training and evaluation decode through here (its sharp fast path first).
  await assert.rejects(decodeForDetector(file), tooManyScans);
});

test('the same stream as a DICOM JPEG frame is refused before the codec sees it', { timeout: 20_000 }, async () => {
  const bomb = jpegScanBomb(4096, 4000, 20_000);
  await assert.rejects(decodeFrameGuarded(TS.jpegFull, bomb, { rows: 4000, columns: 4096, samplesPerPixel: 1, bitsAllocated: 8 }, 0, 'MONOCHROME2'), new RegExp(`more than ${MAX_JPEG_SCANS} scans`));
});

test('JPEGs as encoders write them open: progressive RGB and grey, and a stream of exactly the most scans allowed', async () => {
  const raw = Buffer.alloc(320 * 240 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 251;
  const rgb = await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).jpeg({ progressive: true }).toBuffer();
  const grey = await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).greyscale().jpeg({ progressive: true }).toBuffer();
  for (const [name, bytes] of [['rgb.jpg', rgb], ['grey.jpg', grey]] as const) {
    assert.ok(jpegStructure(bytes).scans > 1, `${name} is progressive`);
    const image = await loadImageBytes(bytes, name);
    assert.equal(image.info.columns, 320);
  }
  const atLimit = jpegScanBomb(256, 200, MAX_JPEG_SCANS - 1);
  assert.equal(jpegStructure(atLimit).scans, MAX_JPEG_SCANS);
  const opened = await loadImageBytes(atLimit, 'at-limit.jpg');
  assert.equal((await opened.frame(0)).data[0], 128, 'the empty scans leave mid-grey');
  await assert.rejects(loadImageBytes(jpegScanBomb(256, 200, MAX_JPEG_SCANS), 'over-limit.jpg'), tooManyScans);
});

test('bytes that are not PNG, JPEG or TIFF are refused unparsed, whatever the file is called', async () => {
  const raw = Buffer.alloc(16 * 16 * 3, 90);
  const gif = await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).gif().toBuffer();
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>');
  for (const [name, bytes] of [['frame.png', gif], ['frame.jpg', svg]] as const) {
    await assert.rejects(loadImageBytes(bytes, name), (e: unknown) => {
      assert.ok(e instanceof StudioError, String(e));
      assert.equal(e.code, 'UNSUPPORTED');
      assert.match(e.message, /not a PNG, JPEG or TIFF image/);
      return true;
    });
  }
});

test("a TIFF whose JPEG tile is made of empty scans is refused; libvips decodes tiles without libtiff's own limit", async () => {
  const tiled = tiffAroundJpeg(jpegScanBomb(1024, 1008, 3000), 1024, 1008, 'tile');
  await assert.rejects(loadImageBytes(tiled, 'tiled.tif'), (e: unknown) => tooManyScans(e) && /TIFF's JPEG-compressed data/.test((e as Error).message));
  const stripped = tiffAroundJpeg(jpegScanBomb(1024, 1008, 3000), 1024, 1008, 'strip');
  await assert.rejects(loadImageBytes(stripped, 'stripped.tif'), tooManyScans);
  // Below the limit the same shape opens, and so does a tiled JPEG TIFF as sharp writes it.
  const few = await loadImageBytes(tiffAroundJpeg(jpegScanBomb(1024, 1008, 10), 1024, 1008, 'tile'), 'few.tif');
  assert.equal(few.info.columns, 1024);
  const legit = await sharp(Buffer.alloc(512 * 512 * 3, 100), { raw: { width: 512, height: 512, channels: 3 } }).tiff({ compression: 'jpeg', tile: true, tileWidth: 256, tileHeight: 256 }).toBuffer();
  assert.equal((await loadImageBytes(legit, 'legit.tif')).info.rows, 512);
});

test("a dataset's mask file gets the same checks as an image: planning and decoding a sample refuse a mask of empty scans", { timeout: 20_000 }, async () => {
  const data = join(dir, 'dataset');
  mkdirSync(join(data, 'images'), { recursive: true });
  mkdirSync(join(data, 'masks'), { recursive: true });
  const image = await sharp(Buffer.alloc(4096 * 4000 * 3, 90), { raw: { width: 4096, height: 4000, channels: 3 } }).jpeg().toBuffer();
  writeFileSync(join(data, 'images', 'case.jpg'), image);
  writeFileSync(join(data, 'masks', 'case.jpg'), jpegScanBomb(4096, 4000, 20_000));
  await assert.rejects(planTraining({ data, format: 'masks', seed: 42 }), tooManyScans);
  await assert.rejects(decodeSample({ id: 'case.jpg', image: join(data, 'images', 'case.jpg'), mask: join(data, 'masks', 'case.jpg') }, 64), tooManyScans);
});
