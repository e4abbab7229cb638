/** A tiny synthetic lesion dataset (bright discs on noise, images/ + masks/), generated at test time. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export async function makeDiscDataset(dir: string, n: number, w = 72, h = 56): Promise<void> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  let s = 7;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < n; i++) {
    const img = Buffer.alloc(w * h * 3);
    const mask = Buffer.alloc(w * h);
    const r = 5 + rand() * 5;
    const cx = r + rand() * (w - 2 * r);
    const cy = r + rand() * (h - 2 * r);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        const v = inside ? 200 + rand() * 40 : 40 + rand() * 60;
        img[(y * w + x) * 3] = v;
        img[(y * w + x) * 3 + 1] = v * 0.8;
        img[(y * w + x) * 3 + 2] = v * 0.6;
        mask[y * w + x] = inside ? 255 : 0;
      }
    }
    const name = `case${String(i).padStart(3, '0')}`;
    await sharp(img, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, 'images', `${name}.png`));
    await sharp(mask, { raw: { width: w, height: h, channels: 1 } }).png().toFile(join(dir, 'masks', `${name}.png`));
  }
}
