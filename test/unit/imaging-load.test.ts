import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import sharp from 'sharp';
import { listImageFiles, loadImageBytes, loadImageFile, toRGB8 } from '../../main/imaging/index.ts';
import { createImagingHandlers } from '../../main/imaging/handlers.ts';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { StudioError } from '../../preload/contract.ts';

/** A minimal explicit-VR little-endian Part 10 file, so the tests need no corpus. */
function element(group: number, el: number, vr: string, value: Uint8Array): Uint8Array {
  const long = ['OB', 'OW', 'OF', 'SQ', 'UN', 'UT'].includes(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const v = new DataView(head.buffer);
  v.setUint16(0, group, true);
  v.setUint16(2, el, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) v.setUint32(8, value.length, true);
  else v.setUint16(6, value.length, true);
  const out = new Uint8Array(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}
const text = (s: string) => new TextEncoder().encode(s.length % 2 ? `${s} ` : s);
const uid = (s: string) => {
  const b = new TextEncoder().encode(s.length % 2 ? `${s}\0` : s);
  return b;
};
const us = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);
const concat = (parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

function makeDicom(o: { rows: number; columns: number; frames?: number; bits?: number; signed?: boolean; photometric?: string; pixels: Uint8Array; extra?: Uint8Array[] }): Uint8Array<ArrayBuffer> {
  const meta = concat([element(0x0002, 0x0010, 'UI', uid('1.2.840.10008.1.2.1'))]);
  const groupLength = element(0x0002, 0x0000, 'UL', new Uint8Array(new Uint32Array([meta.length]).buffer));
  const bits = o.bits ?? 16;
  const body = concat([
    element(0x0008, 0x0016, 'UI', uid('1.2.840.10008.5.1.4.1.1.7')),
    element(0x0008, 0x0060, 'CS', text('OT')),
    ...(o.extra ?? []),
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0004, 'CS', text(o.photometric ?? 'MONOCHROME2')),
    element(0x0028, 0x0008, 'IS', text(String(o.frames ?? 1))),
    element(0x0028, 0x0010, 'US', us(o.rows)),
    element(0x0028, 0x0011, 'US', us(o.columns)),
    element(0x0028, 0x0100, 'US', us(bits)),
    element(0x0028, 0x0101, 'US', us(bits)),
    element(0x0028, 0x0102, 'US', us(bits - 1)),
    element(0x0028, 0x0103, 'US', us(o.signed ? 1 : 0)),
    element(0x7fe0, 0x0010, bits > 8 ? 'OW' : 'OB', o.pixels),
  ]);
  const preamble = new Uint8Array(132);
  preamble.set(new TextEncoder().encode('DICM'), 128);
  return concat([preamble, groupLength, meta, body]);
}

test('a small native DICOM loads with its values, window and lazy frames', async () => {
  const pixels = new Int16Array([-100, 0, 100, 200, 300, 400]);
  const bytes = makeDicom({ rows: 1, columns: 3, frames: 2, signed: true, pixels: new Uint8Array(pixels.buffer), extra: [element(0x0028, 0x1052, 'DS', text('-10')), element(0x0028, 0x1053, 'DS', text('2'))] });
  const img = await loadImageBytes(bytes, 'tiny.dcm');
  assert.equal(img.info.kind, 'dicom');
  assert.equal(img.info.frames, 2);
  const stored = await img.stored(1);
  assert.deepEqual([...stored.data], [200, 300, 400]);
  assert.deepEqual(stored.shape, [1, 3]);
  const frame = await img.frame(0);
  assert.deepEqual([...frame.data], [-210, -10, 190]);
  assert.deepEqual(img.info.valueRange, { min: -210, max: 190 });
  assert.deepEqual(img.info.rescale, { slope: 2, intercept: -10 }, 'the summary carries the rescale, for the stored-value readout');
  assert.equal(img.info.windows.length, 1, 'a window is computed when the file has none');
  await assert.rejects(img.stored(2), (e: unknown) => e instanceof StudioError && e.code === 'NOT_FOUND');
  assert.equal(img.meta().transferSyntax, '1.2.840.10008.1.2.1');
});

test('a declared size needing absurd memory is refused before any pixel is read', async () => {
  const bytes = makeDicom({ rows: 65000, columns: 65000, frames: 1000, pixels: new Uint8Array(8) });
  await assert.rejects(loadImageBytes(bytes, 'bomb.dcm'), (e: unknown) => e instanceof StudioError && e.code === 'TOO_LARGE' && /bomb\.dcm/.test(e.message));
});

test('truncated pixel data, garbage and non-image objects give one clear error naming the file', async () => {
  const short = makeDicom({ rows: 100, columns: 100, pixels: new Uint8Array(100) });
  await assert.rejects(loadImageBytes(short, 'short.dcm'), /short\.dcm: pixel data are truncated/);
  await assert.rejects(loadImageBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), 'junk.bin'), /junk\.bin: not a DICOM file/);
  await assert.rejects(loadImageBytes(new Uint8Array(0), 'empty.dcm'), /empty\.dcm: file is empty/);
  const full = makeDicom({ rows: 1, columns: 1, pixels: new Uint8Array(2) });
  const noPixels = full.subarray(0, full.length - 14); // drop the Pixel Data element
  await assert.rejects(loadImageBytes(noPixels, 'report.dcm'), /report\.dcm: no Pixel Data/);
  for (let cut = 140; cut < full.length; cut += 7) {
    await loadImageBytes(full.subarray(0, cut), 'cut.dcm').then(
      () => assert.fail(`a file cut at ${cut} bytes should not load`),
      (e: unknown) => assert.ok(e instanceof StudioError && e.message.startsWith('cut.dcm: '), `cut at ${cut}: ${String(e)}`),
    );
  }
});

test('PNG, JPEG and TIFF rasters load as grey or RGB, 8 and 16 bit', async () => {
  const grey16 = Uint16Array.from({ length: 12 }, (_, i) => i * 5000);
  const png16 = await sharp(grey16, { raw: { width: 4, height: 3, channels: 1, premultiplied: false } }).toColourspace('grey16').png().toBuffer();
  const img16 = await loadImageBytes(png16, 'grey16.png');
  assert.equal(img16.info.bitsStored, 16);
  assert.equal(img16.info.channels, 1);
  assert.deepEqual([...(await img16.stored(0)).data], [...grey16]);

  const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 7) % 256);
  const tiff = await sharp(rgb, { raw: { width: 4, height: 3, channels: 3 } }).tiff({ compression: 'lzw' }).toBuffer();
  const imgTiff = await loadImageBytes(tiff, 'rgb.tif');
  assert.equal(imgTiff.info.channels, 3);
  assert.deepEqual([...(await imgTiff.stored(0)).data], [...rgb]);
  assert.deepEqual((await imgTiff.stored(0)).shape, [3, 4, 3]);

  const rgb16 = Uint16Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 5000 + 7);
  const tiff16 = await sharp(rgb16, { raw: { width: 2, height: 2, channels: 3 } }).toColourspace('rgb16').tiff({ compression: 'deflate' }).toBuffer();
  const img16rgb = await loadImageBytes(tiff16, 'rgb16.tiff');
  assert.equal(img16rgb.info.bitsStored, 16);
  assert.deepEqual([...(await img16rgb.stored(0)).data], [...rgb16]);
  assert.deepEqual([...((await img16rgb.frame(0)).data as Uint8Array)], [...rgb16].map((v) => v >> 8));

  const jpeg = await sharp(rgb, { raw: { width: 4, height: 3, channels: 3 } }).jpeg().toBuffer();
  const imgJpeg = await loadImageBytes(jpeg, 'photo.jpg');
  assert.equal(imgJpeg.info.kind, 'raster');
  assert.equal(imgJpeg.info.rescale, undefined, 'rasters have no rescale');
  assert.equal(toRGB8(await imgJpeg.frame(0)).data.length, 36);

  await assert.rejects(loadImageBytes(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), 'broken.png'), /broken\.png: /);
});

test('folders are listed recursively and sorted; the session opens what it can and names the rest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'studio-imaging-'));
  try {
    await mkdir(join(dir, 'b'));
    const good = makeDicom({ rows: 2, columns: 2, pixels: new Uint8Array(8) });
    await writeFile(join(dir, 'b', 'one.dcm'), good);
    await writeFile(join(dir, 'a.png'), await sharp(new Uint8Array(4), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer());
    await writeFile(join(dir, 'bad.dcm'), new Uint8Array([1, 2, 3]));
    await writeFile(join(dir, 'notes.txt'), 'not an image');
    const listed = await listImageFiles([dir, join(dir, 'missing')]);
    assert.deepEqual(listed.files, [join(dir, 'a.png'), join(dir, 'b', 'one.dcm'), join(dir, 'bad.dcm')]);
    assert.equal(listed.errors.length, 1);

    const service = createImagingHandlers({ log: () => {} });
    const opened = await service.handlers['imaging.open']({ paths: [dir] });
    assert.equal(opened.images.length, 2);
    assert.equal(opened.errors.length, 1);
    assert.match(opened.errors[0].message, /bad\.dcm/);
    const first = opened.images[0];
    assert.ok(first.thumbnail.rgba.length > 0);
    const frame = await service.handlers['imaging.frame']({ id: first.id, frame: 0 });
    assert.equal(frame.id, first.id);
    assert.equal(service.provider.summary(first.id).name, first.name);
    await assert.rejects(service.handlers['imaging.frame']({ id: first.id, frame: 5 }), /frame 5 does not exist/);
    const uploaded = await service.handlers['imaging.upload']({ files: [{ name: 'up.dcm', bytes: good }, { name: 'x.dcm', bytes: new Uint8Array(3) }] });
    assert.equal(uploaded.images.length, 1);
    assert.equal(uploaded.errors[0].file, 'x.dcm');
    assert.equal((await service.handlers['imaging.list']({})).length, 3);
    assert.deepEqual(await service.handlers['imaging.close']({ ids: [first.id, 'nope'] }), { closed: 1 });
    await assert.rejects(service.handlers['imaging.frame']({ id: first.id, frame: 0 }), (e: unknown) => e instanceof StudioError && e.code === 'NOT_FOUND');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('studio decode writes .npy frames and meta.json, and fails with one line for a bad file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'studio-decode-'));
  try {
    const pixels = new Uint16Array([1, 2, 3, 4, 5, 6]);
    await writeFile(join(dir, 'in.dcm'), makeDicom({ rows: 1, columns: 3, frames: 2, pixels: new Uint8Array(pixels.buffer) }));
    await writeFile(join(dir, 'bad.dcm'), 'nonsense');
    const studio = join(PROJECT_ROOT, 'bin', 'studio.mjs');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [studio, 'decode', ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      });
    const ok = await run([join(dir, 'in.dcm'), '--out', join(dir, 'out')]);
    assert.equal(ok.code, 0, ok.stderr);
    const npy = await readFile(join(dir, 'out', 'frame-0001.npy'));
    const headerLength = npy[8] | (npy[9] << 8);
    assert.match(npy.subarray(10, 10 + headerLength).toString('latin1'), /'descr': '<u2'.*'shape': \(1, 3\)/);
    assert.deepEqual([...new Uint16Array(npy.buffer.slice(npy.byteOffset + 10 + headerLength, npy.byteOffset + npy.length))], [4, 5, 6]);
    const meta = JSON.parse(await readFile(join(dir, 'out', 'meta.json'), 'utf8'));
    assert.equal(meta.frames, 2);
    assert.equal(meta.bitsAllocated, 16);
    assert.equal(meta.photometricInterpretation, 'MONOCHROME2');
    const bad = await run([join(dir, 'bad.dcm'), '--out', join(dir, 'out2')]);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /bad\.dcm/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loading a real file by path names the path in errors', async () => {
  await assert.rejects(loadImageFile('/nonexistent/scan.dcm'), /\/nonexistent\/scan\.dcm/);
});

test('file-backed images beyond the byte budget let their bytes go and read the file again', async () => {
  const { fileBytes } = await import('../../main/imaging/reload.ts');
  const dir = await mkdtemp(join(tmpdir(), 'studio-reload-'));
  const budget = fileBytes.budget;
  try {
    fileBytes.budget = 1; // every image but the most recent lets go of its bytes
    const paths = [0, 1, 2].map((k) => join(dir, `${k}.dcm`));
    for (const [k, p] of paths.entries()) await writeFile(p, makeDicom({ rows: 1, columns: 2, frames: 3, pixels: new Uint8Array(new Uint16Array([k, k, k + 1, k + 1, k + 2, k + 2]).buffer) }));
    const images = [];
    for (const p of paths) images.push(await loadImageFile(p));
    for (const [k, img] of images.entries()) assert.deepEqual([...(await img.stored(2)).data], [k + 2, k + 2]);
    assert.equal(images[0].meta().frames, 3);
    await writeFile(paths[0], 'changed');
    await images[1].stored(1); // makes image 0 cold
    await assert.rejects(images[0].stored(1), /0\.dcm: the file changed or went away/);
  } finally {
    fileBytes.budget = budget;
    await rm(dir, { recursive: true, force: true });
  }
});
