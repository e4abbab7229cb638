import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeRle, unpackBitsSegment } from '../../main/imaging/codecs/rle.ts';
import { honourRgb } from '../../main/imaging/codecs/index.ts';
import { checkDeclaredSize } from '../../main/imaging/guard.ts';
import { encodeNpy } from '../../main/imaging/npy.ts';
import { planarToInterleaved, ybr422ToYbrFull, ybrFullToRgb } from '../../main/imaging/pixels/colour.ts';
import { thumbnail, toRGB8, windowFromData } from '../../main/imaging/pixels/display.ts';
import { applyModality, applyPalette, expandSegmentedLut, lookup } from '../../main/imaging/pixels/lut.ts';
import { maskStored, samplesFromBytes, unpackBits } from '../../main/imaging/pixels/samples.ts';
import { StudioError } from '../../preload/contract.ts';
import type { FrameData } from '../../main/imaging/index.ts';

function packBitsEncodeLiteral(bytes: number[]): number[] {
  return [bytes.length - 1, ...bytes];
}

test('RLE segments decode literal and replicate runs (PackBits)', () => {
  const out = new Uint8Array(7);
  // literal 3 bytes, then run of 4 x 9, then a no-op (-128) byte
  const n = unpackBitsSegment(new Uint8Array([2, 1, 2, 3, 256 - 3, 9, 128]), out);
  assert.equal(n, 7);
  assert.deepEqual([...out], [1, 2, 3, 9, 9, 9, 9]);
});

test('RLE frames of 16-bit samples put the high-byte segment first and come out little endian', () => {
  const values = [0x0102, 0xa0b0, 0xffff, 0x0000];
  const high = packBitsEncodeLiteral(values.map((v) => v >> 8));
  const low = packBitsEncodeLiteral(values.map((v) => v & 0xff));
  const frame = new Uint8Array(64 + high.length + low.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, 2, true);
  view.setUint32(4, 64, true);
  view.setUint32(8, 64 + high.length, true);
  frame.set(high, 64);
  frame.set(low, 64 + high.length);
  const bytes = decodeRle(frame, { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 16 });
  assert.deepEqual([...new Uint16Array(bytes.buffer)], values);
});

test('RLE refuses a header whose segment count does not fit the image', () => {
  const frame = new Uint8Array(70);
  new DataView(frame.buffer).setUint32(0, 3, true);
  assert.throws(() => decodeRle(frame, { rows: 1, columns: 1, samplesPerPixel: 1, bitsAllocated: 16 }), /3 segments/);
});

test('stored values are masked to Bits Stored and sign-extended', () => {
  const f = { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: true, floatBits: 0 as const };
  // 0xF800 has junk above bit 11 (an overlay bit) and 0x0800 is the 12-bit sign bit.
  const raw = new Uint8Array(new Uint16Array([0x07ff, 0x0800, 0xffff, 0xf001]).buffer);
  const samples = maskStored(samplesFromBytes(raw, 4, f), f, true);
  assert.ok(samples instanceof Int16Array);
  assert.deepEqual([...samples], [2047, -2048, -1, 1]);
  const unsigned = { ...f, signed: false };
  assert.deepEqual([...maskStored(samplesFromBytes(raw, 4, unsigned), unsigned, true)], [0x7ff, 0x800, 0xfff, 0x001]);
});

test('big-endian words are swapped when asked', () => {
  const f = { bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: false, floatBits: 0 as const };
  assert.deepEqual([...samplesFromBytes(new Uint8Array([0x01, 0x02, 0xff, 0x00]), 2, f, 2)], [0x0102, 0xff00]);
});

test('1-bit pixel data unpack least significant bit first, across byte boundaries', () => {
  assert.deepEqual([...unpackBits(new Uint8Array([0b10110001, 0b00000001]), 0, 9)], [1, 0, 0, 0, 1, 1, 0, 1, 1]);
  assert.deepEqual([...unpackBits(new Uint8Array([0b10110001]), 4, 4)], [1, 1, 0, 1]);
});

test('modality LUT: rescale slope/intercept, and a LUT sequence clamps out-of-range values', () => {
  assert.deepEqual([...applyModality(new Int16Array([0, 1000]), { slope: 2, intercept: -1024 })], [-1024, 976]);
  const lut = { first: 10, bits: 16, data: new Uint16Array([100, 200, 300]) };
  assert.deepEqual([...applyModality(new Uint16Array([5, 10, 11, 12, 99]), { slope: 1, intercept: 0 }, lut)], [100, 100, 200, 300, 300]);
  assert.equal(lookup({ first: -2, data: new Uint16Array([7, 8]) }, -1), 8);
});

test('palette colour maps indices through 16-bit entries to bytes', () => {
  const palette = { first: 0, bits: 16, red: new Uint16Array([0, 0xffff]), green: new Uint16Array([0x8000, 0]), blue: new Uint16Array([0x0100, 0x0200]) };
  assert.deepEqual([...applyPalette(new Uint8Array([0, 1, 5]), palette)], [0, 128, 1, 255, 0, 2, 255, 0, 2]);
  const eight = { first: 0, bits: 8, red: new Uint16Array([10, 250]), green: new Uint16Array([20, 0]), blue: new Uint16Array([30, 1]) };
  assert.deepEqual([...applyPalette(new Uint8Array([1]), eight)], [250, 0, 1]);
});

test('segmented palette LUTs expand discrete, linear and indirect segments', () => {
  // discrete [0, 10], linear to 30 over 2 entries, then an indirect copy of the first segment
  const words = new Uint16Array([0, 2, 0, 10, 1, 2, 30, 2, 1, 0, 0]);
  assert.deepEqual([...expandSegmentedLut(words, 6)], [0, 10, 20, 30, 0, 10]);
});

test('YBR_FULL converts to RGB and YBR_FULL_422 pairs share their chroma', () => {
  const grey = ybrFullToRgb(new Uint8Array([128, 128, 128]));
  assert.deepEqual([...grey], [128, 128, 128]);
  const red = ybrFullToRgb(new Uint8Array([76, 85, 255]));
  assert.ok(red[0] > 250 && red[1] < 5 && red[2] < 5, `red came out ${[...red]}`);
  const full = ybr422ToYbrFull(new Uint8Array([10, 20, 100, 200]), 1, 2);
  assert.deepEqual([...full], [10, 100, 200, 20, 100, 200]);
});

test('planar configuration 1 interleaves to RGB', () => {
  assert.deepEqual([...planarToInterleaved(new Uint8Array([1, 2, 10, 20, 100, 200]), 2)], [1, 10, 100, 2, 20, 200]);
});

function greyFrame(values: number[], extra: Partial<FrameData> = {}): FrameData {
  return { frame: 0, rows: 1, columns: values.length, channels: 1, data: Float32Array.from(values), invert: false, min: Math.min(...values), max: Math.max(...values), ...extra };
}

test('the linear VOI window follows the DICOM formula and MONOCHROME1 inverts', () => {
  // c = 40, w = 400: 0 at or below c - 0.5 - (w-1)/2 = -160, 255 above c - 0.5 + (w-1)/2 = 239.
  const frame = greyFrame([-1000, -160, 40, 239, 1000]);
  const { data } = toRGB8(frame, { center: 40, width: 400 });
  assert.deepEqual([0, 3, 6, 9, 12].map((i) => data[i]), [0, 0, 128, 255, 255]);
  assert.deepEqual([...toRGB8(greyFrame([-1000, 1000]), { center: 0, width: 1 }).data.filter((_, i) => i % 3 === 0)], [0, 255]);
  const inverted = toRGB8(greyFrame([-1000, 1000], { invert: true }), { center: 40, width: 400 });
  assert.deepEqual([...inverted.data], [255, 255, 255, 0, 0, 0]);
});

test('the VOI LUT is used when asked for', () => {
  const frame = greyFrame([0, 1, 2], { voiLut: { firstMapped: 0, bits: 8, data: new Uint16Array([255, 0, 128]) } });
  assert.deepEqual([...toRGB8(frame, 'voi-lut').data.filter((_, i) => i % 3 === 0)], [255, 0, 128]);
});

test('a window computed from the data ignores a few outliers', () => {
  const values = Array.from({ length: 1000 }, (_, i) => i % 100);
  values[0] = -30000;
  const w = windowFromData(values);
  assert.ok(w.center > 40 && w.center < 60 && w.width < 120, JSON.stringify(w));
});

test('thumbnails keep the aspect ratio within the maximum side', () => {
  const frame: FrameData = { frame: 0, rows: 200, columns: 400, channels: 1, data: new Float32Array(80000).fill(5), invert: false, min: 5, max: 5 };
  const t = thumbnail(frame, { center: 0, width: 2 }, 96);
  assert.equal(t.width, 96);
  assert.equal(t.height, 48);
  assert.equal(t.rgba.length, 96 * 48 * 4);
  assert.equal(t.rgba[0], 255);
});

test('npy files carry a NumPy 1.0 header with dtype and shape, 64-byte aligned', () => {
  const npy = encodeNpy(new Int16Array([1, -2, 3, -4, 5, -6]), [2, 3]);
  assert.deepEqual([...npy.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = npy[8] | (npy[9] << 8);
  assert.equal((10 + headerLength) % 64, 0);
  const header = new TextDecoder().decode(npy.subarray(10, 10 + headerLength));
  assert.match(header, /'descr': '<i2'/);
  assert.match(header, /'shape': \(2, 3\)/);
  assert.ok(header.endsWith('\n'));
  assert.deepEqual([...new Int16Array(npy.slice(10 + headerLength).buffer)], [1, -2, 3, -4, 5, -6]);
  assert.match(new TextDecoder().decode(encodeNpy(new Float64Array(3), [3]).subarray(10, 128)), /'<f8'.*\(3,\)/);
  assert.throws(() => encodeNpy(new Uint8Array(5), [2, 3]), /holds 6 values/);
});

test('absurd declared sizes are refused before allocation', () => {
  const ok = { rows: 512, columns: 512, frames: 100, samplesPerPixel: 1, bitsAllocated: 16 };
  checkDeclaredSize(ok, 'fine.dcm');
  const tooBig = { ...ok, rows: 60000, columns: 60000, frames: 1 };
  assert.throws(() => checkDeclaredSize(tooBig, 'huge.dcm'), (e: unknown) => e instanceof StudioError && e.code === 'TOO_LARGE' && e.message.startsWith('huge.dcm: '));
  assert.throws(() => checkDeclaredSize({ ...ok, rows: 70000 }, 'wide.dcm'), /65535/);
  assert.throws(() => checkDeclaredSize({ ...ok, rows: 0 }, 'empty.dcm'), /no size/);
  assert.throws(() => checkDeclaredSize({ ...ok, bitsAllocated: 12 }, 'odd.dcm'), /Bits Allocated 12/);
});

test('RGB JPEG streams without JFIF/Adobe markers get R,G,B component ids so no colour transform is applied', () => {
  // SOI, SOF0 (3 components ids 1,2,3), SOS naming ids 1,2,3
  const sof = [0xff, 0xc0, 0, 17, 8, 0, 1, 0, 1, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0];
  const sos = [0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0];
  const jpeg = new Uint8Array([0xff, 0xd8, ...sof, ...sos, 0xff, 0xd9]);
  const fixed = honourRgb(jpeg, 'RGB');
  assert.deepEqual([fixed[12], fixed[15], fixed[18]], [0x52, 0x47, 0x42]);
  assert.deepEqual([fixed[2 + sof.length + 5], fixed[2 + sof.length + 7], fixed[2 + sof.length + 9]], [0x52, 0x47, 0x42]);
  assert.equal(honourRgb(jpeg, 'YBR_FULL_422'), jpeg);
  const jfif = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, ...sof, ...sos]);
  assert.equal(honourRgb(jfif, 'RGB'), jfif);
});

test('the DCT JPEG decoder (12-bit capable) matches libjpeg on baseline and progressive streams', async () => {
  const { default: sharp } = await import('sharp');
  const { decodeJpegDct } = await import('../../main/imaging/codecs/jpeg.ts');
  const width = 37;
  const height = 23;
  const grey = Uint8Array.from({ length: width * height }, (_, i) => (Math.sin(i / 7) * 100 + 128 + ((i * 13) % 17)) | 0);
  for (const progressive of [false, true]) {
    const jpeg = await sharp(grey, { raw: { width, height, channels: 1 } }).jpeg({ quality: 80, progressive }).toBuffer();
    const reference = await sharp(jpeg).raw().toBuffer();
    const mine = decodeJpegDct(new Uint8Array(jpeg));
    assert.equal(mine.width, width);
    assert.equal(mine.height, height);
    let worst = 0;
    for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(mine.samples[i] - reference[i]));
    assert.ok(worst <= 2, `progressive=${progressive}: max difference ${worst}`);
  }
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 5) % 251);
  const colour = await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90, progressive: true, chromaSubsampling: '4:4:4' }).toBuffer();
  const ref = await sharp(colour).raw().toBuffer();
  const out = decodeJpegDct(new Uint8Array(colour));
  assert.equal(out.colourConverted, true);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(out.samples[i] - ref[i]));
  assert.ok(worst <= 3, `colour: max difference ${worst}`);
  assert.throws(() => decodeJpegDct(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), /no frame header/);
});

test('decoded frames share one memory budget, oldest evicted first, failures not cached', async () => {
  const { frameMemory, FRAME_CACHE_BYTES } = await import('../../main/imaging/cache.ts');
  const size = (v: { data: ArrayBufferView }) => v.data.byteLength;
  let made = 0;
  const big = () => {
    made++;
    return Promise.resolve({ data: new Uint8Array(FRAME_CACHE_BYTES / 4) });
  };
  for (let i = 0; i < 6; i++) await frameMemory.get(`budget-test/${i}`, big, size);
  assert.ok(frameMemory.bytesUsed <= FRAME_CACHE_BYTES, `${frameMemory.bytesUsed} bytes held`);
  await frameMemory.get('budget-test/5', big, size);
  assert.equal(made, 6, 'the newest frame is still cached');
  await frameMemory.get('budget-test/0', big, size);
  assert.equal(made, 7, 'the oldest frame was evicted');
  let attempts = 0;
  const failing = () => {
    attempts++;
    return Promise.reject(new Error('bad frame'));
  };
  await assert.rejects(frameMemory.get('budget-test/bad', failing, size));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(frameMemory.get('budget-test/bad', failing, size));
  assert.equal(attempts, 2, 'a failed decode is retried, not cached');
});
