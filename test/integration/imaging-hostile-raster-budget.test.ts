/**
 * Issue 25, item 3: a 249 KB PNG declaring 16000² passed every guard and cost seconds and gigabytes (the
 * pipeline's own copies: decoded samples, their copy, Float32 values, RGB display bytes). Rasters are now
 * refused from their header, before decoding, when that pipeline would need more than MAX_RASTER_BYTES,
 * while clinical sizes (4096² 16-bit mammography, 1920x1072 endoscopy) still open. Each hostile file is
 * opened in a child process so its time and peak memory are its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { StudioError } from '../../preload/contract.ts';
import { loadImageBytes, loadImageFile } from '../../main/imaging/index.ts';
import * as guard from '../../main/imaging/guard.ts';
import { referenceData } from '../../main/settings.ts';

const data = referenceData('hostile/raster');
const skip = 'skip' in data ? `${data.skip} (the hostile reproducers of issue 25)` : false;
const INDEX = new URL('../../main/imaging/index.ts', import.meta.url).href;
/** Peak resident memory a refused open may reach in a fresh process (node + tsx + sharp start at ≈ 150 MB). */
const PEAK_BOUND_MB = 400;

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
  ms: number;
  peakMb: number;
}

function openInChild(path: string): Outcome {
  const script = `
    const { loadImageFile } = await import(${JSON.stringify(INDEX)});
    const started = performance.now();
    let out;
    try {
      const img = await loadImageFile(${JSON.stringify(path)});
      out = { ok: true, message: img.info.columns + 'x' + img.info.rows };
    } catch (e) {
      out = { ok: false, code: e.code, message: e.message };
    }
    out.ms = performance.now() - started;
    out.peakMb = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify(out));
    process.exit(0);`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `the child gave no answer (status ${child.status}, signal ${child.signal}): ${child.stderr.slice(-2000)}`);
  return JSON.parse(line) as Outcome;
}

test('PNGs declaring 16000² or more are refused from their header, in milliseconds and without the gigabytes', { skip, timeout: 300_000 }, async (t) => {
  if ('skip' in data) return;
  const files = readdirSync(data.dir).filter((f) => f.startsWith('bomb-'));
  assert.ok(files.length >= 3, `expected the bomb-* reproducers in ${data.dir}`);
  for (const file of files) {
    const path = join(data.dir, file);
    const o = openInChild(path);
    t.diagnostic(`${file}: ${o.ok ? `opened ${o.message}` : `${o.code}: ${o.message}`}; ${o.ms.toFixed(0)} ms, peak ${o.peakMb.toFixed(0)} MB`);
    assert.equal(o.ok, false, `${file} opened`);
    assert.equal(o.code, 'TOO_LARGE');
    const side = file.match(/(\d+)x\1/)![1];
    assert.ok(o.message?.includes(path) && o.message.includes(`${side}x${side}`) && /the limit is/.test(o.message), o.message);
    assert.ok(o.ms < 1_000, `${file}: ${o.ms.toFixed(0)} ms`);
    assert.ok(o.peakMb < PEAK_BOUND_MB, `${file}: peak ${o.peakMb.toFixed(0)} MB`);
  }
});

/** A valid 1x1 grey PNG whose IHDR is rewritten to declare width x height (CRC fixed): its data end early. */
async function pngDeclaring(width: number, height: number): Promise<Uint8Array> {
  const png = new Uint8Array(await sharp(Buffer.from([0]), { raw: { width: 1, height: 1, channels: 1 } }).png().toBuffer());
  const view = new DataView(png.buffer, png.byteOffset);
  assert.equal(String.fromCharCode(...png.subarray(12, 16)), 'IHDR');
  view.setUint32(16, width);
  view.setUint32(20, height);
  view.setUint32(29, crc32(png.subarray(12, 29)));
  return png;
}

test('a crafted PNG header declaring 16000² is refused before decoding (TOO_LARGE, the declared size and the limit)', async () => {
  const started = performance.now();
  await assert.rejects(loadImageBytes(await pngDeclaring(16000, 16000), 'crafted.png'), (e: unknown) => {
    assert.ok(e instanceof StudioError && e.code === 'TOO_LARGE', String(e));
    assert.match(e.message, /^crafted\.png: .*16000x16000.*the limit is 1\.0 GiB/);
    return true;
  });
  assert.ok(performance.now() - started < 1_000);
});

/** An uncompressed little-endian TIFF with one 8-bit grey page per [width, height]; each page holds 16 bytes. */
function tiffPages(pages: [number, number][]): Uint8Array {
  const entries = 9;
  const ifdSize = 2 + entries * 12 + 4;
  const bytes = new Uint8Array(8 + pages.length * (ifdSize + 16));
  const view = new DataView(bytes.buffer);
  bytes.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  let at = 8;
  pages.forEach(([width, height], p) => {
    const dataAt = at + ifdSize;
    view.setUint16(at, entries, true);
    const tags = [[256, 4, width], [257, 4, height], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, dataAt], [277, 3, 1], [278, 4, height], [279, 4, width * height]];
    tags.forEach(([tag, type, value], i) => {
      const e = at + 2 + i * 12;
      view.setUint16(e, tag, true);
      view.setUint16(e + 2, type, true);
      view.setUint32(e + 4, 1, true);
      if (type === 3) view.setUint16(e + 8, value, true);
      else view.setUint32(e + 8, value, true);
    });
    view.setUint32(at + 2 + entries * 12, p + 1 < pages.length ? dataAt + 16 : 0, true);
    for (let k = 0; k < 16; k++) bytes[dataAt + k] = k * 16;
    at = dataAt + 16;
  });
  return bytes;
}

test('a TIFF whose second page declares 16000² is refused when that page is asked for, before decoding it', async () => {
  const img = await loadImageBytes(tiffPages([[4, 4], [16000, 16000]]), 'two-pages.tif');
  assert.equal(img.info.frames, 2);
  const started = performance.now();
  await assert.rejects(img.frame(1), (e: unknown) => e instanceof StudioError && e.code === 'TOO_LARGE' && /page 1 declares more than \d+ megapixels/.test(e.message));
  assert.ok(performance.now() - started < 1_000);
  img.release?.();
});

test('the budget counts the pipeline copies and keeps clinical sizes', () => {
  // 16-bit grey: 2 B decoded + 2 B copy + 4 B Float32 + 1 B grey + 3 B RGB display per pixel
  assert.equal(guard.rasterPipelineBytes({ width: 10, height: 10, channels: 1, bits: 16 }), 100 * 12);
  // 8-bit RGB: 3 B decoded + 3 B copy (the display reuses it) + 3 B RGB display
  assert.equal(guard.rasterPipelineBytes({ width: 10, height: 10, channels: 3, bits: 8 }), 100 * 9);
  for (const [w, h, c, b] of [[4096, 4096, 1, 16], [4915, 5355, 1, 16], [1920, 1072, 3, 8], [8688, 5792, 3, 8], [6000, 4000, 3, 16]] as const) {
    assert.ok(guard.rasterPipelineBytes({ width: w, height: h, channels: c, bits: b }) <= guard.MAX_RASTER_BYTES, `${w}x${h}x${c} ${b}-bit`);
  }
  assert.ok(guard.rasterPipelineBytes({ width: 16000, height: 16000, channels: 1, bits: 8 }) > guard.MAX_RASTER_BYTES);
});

test('clinical rasters still open: 4096² 16-bit grey PNG and 1920x1072 RGB JPEG', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'studio-raster-budget-'));
  try {
    const grey = new Uint16Array(4096 * 4096);
    for (let i = 0; i < grey.length; i++) grey[i] = (i * 7) & 0x0fff;
    const mammo = join(dir, 'mammo.png');
    await sharp(grey, { raw: { width: 4096, height: 4096, channels: 1 } }).toColourspace('grey16').png().toFile(mammo);
    const img = await loadImageFile(mammo);
    assert.deepEqual([img.info.columns, img.info.rows, img.info.channels, img.info.bitsStored], [4096, 4096, 1, 16]);
    img.release?.();
    const endo = join(dir, 'endo.jpg');
    await writeFile(endo, await sharp({ create: { width: 1920, height: 1072, channels: 3, background: { r: 200, g: 80, b: 60 } } }).jpeg().toBuffer());
    const rgb = await loadImageFile(endo);
    assert.deepEqual([rgb.info.columns, rgb.info.rows, rgb.info.channels], [1920, 1072, 3]);
    rgb.release?.();
    assert.ok(readFileSync(endo).length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
