/** analyze's decoder: a fast path for plain 8-bit RGB PNG/JPEG that must give exactly what imaging gives. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../../main/detector/decode.ts';
import { loadImageFile, toRGB8 } from '../../main/imaging/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'batch-decode-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function viaImaging(path: string) {
  const loaded = await loadImageFile(path);
  const w = loaded.info.windows[0];
  return toRGB8(await loaded.frame(0), w ? { center: w.center, width: w.width } : undefined);
}

test('every kind of raster decodes to the same RGB bytes as imaging gives (fast path or not)', async () => {
  const W = 37;
  const H = 23;
  const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 13 + (i >> 5)) & 255);
  const rgba = Uint8Array.from({ length: W * H * 4 }, (_, i) => (i * 7) & 255);
  const grey16 = Uint16Array.from({ length: W * H }, (_, i) => i * 97);
  const files: Record<string, Promise<unknown>> = {
    'rgb.jpg': sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 80 }).toFile(join(dir, 'rgb.jpg')),
    'rgb.png': sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(dir, 'rgb.png')),
    'rgba.png': sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(join(dir, 'rgba.png')),
    'grey.jpg': sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).toColourspace('b-w').jpeg().toFile(join(dir, 'grey.jpg')),
    'grey16.png': sharp(grey16, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toFile(join(dir, 'grey16.png')),
  };
  await Promise.all(Object.values(files));
  for (const name of Object.keys(files)) {
    const want = await viaImaging(join(dir, name));
    const got = await decodeImage(join(dir, name));
    assert.deepEqual([got.width, got.height], [want.width, want.height], name);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(want.data)), `${name}: pixels differ`);
  }
});

test('a truncated JPEG fails with imaging\'s error naming the file', async () => {
  const good = await sharp(Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => i & 255), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
  const path = join(dir, 'cut.jpg');
  writeFileSync(path, good.subarray(0, 200));
  const imaging = await viaImaging(path).then(() => 'loaded', (e: Error) => e.message);
  const ours = await decodeImage(path).then(() => 'loaded', (e: Error) => e.message);
  assert.equal(ours, imaging);
  assert.match(ours, /cut\.jpg/);
});
