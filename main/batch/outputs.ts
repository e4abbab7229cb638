/**
 * What `studio analyze` writes per image: the lesion probability and the spatial attention nearest the output (the supervised gate) as
 * 8-bit PNGs at the image's own size, and an overlay (image + heatmap + boxes); plus the CSV row format.
 */
import { csvField } from '../core/csv.ts';
import sharp from 'sharp';
import type { Finding, Map2D } from '../../preload/contract.ts';
import type { RGBImage } from '../detector/preprocess.ts';

// Fast settings: batch output is written once per image and read rarely; speed matters more than bytes.
// The grey maps are smooth, so zlib's fastest level still shrinks them several times; the overlay is a
// photograph, where deflate at level 1 saved only ≈ 12% of the bytes for ≈ 4× the CPU of storing them
// (a polyp image: 0.87 vs 0.99 MB, 8.5 vs 1.8 ms), so it is stored uncompressed.
const PNG_OPTIONS = { compressionLevel: 1, adaptiveFiltering: false } as const;
const PHOTO_PNG_OPTIONS = { compressionLevel: 0, adaptiveFiltering: false } as const;

/** Which per-image files `studio analyze` writes (`--outputs`). */
export const OUTPUT_KINDS = ['heatmap', 'attention', 'overlay'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** A [0, 1] map (covering the image's extent) as an 8-bit greyscale image of `width × height`. */
export async function mapToGrey(map: Map2D, width: number, height: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(map.width * map.height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, map.data[i])) * 255);
  const resized = await sharp(bytes, { raw: { width: map.width, height: map.height, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .toColourspace('b-w') // sharp otherwise hands back 3-channel sRGB
    .raw()
    .toBuffer();
  return new Uint8Array(resized.buffer, resized.byteOffset, width * height);
}

/** mapToGrey then writeGreyPng in one sharp pipeline (no raw round trip): for a map only written out. */
export async function writeMapPng(map: Map2D, width: number, height: number, file: string): Promise<void> {
  const bytes = new Uint8Array(map.width * map.height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, map.data[i])) * 255);
  await sharp(bytes, { raw: { width: map.width, height: map.height, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .toColourspace('b-w')
    .png(PNG_OPTIONS)
    .toFile(file);
}

export async function writeGreyPng(grey: Uint8Array, width: number, height: number, file: string): Promise<void> {
  await sharp(grey, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png(PNG_OPTIONS).toFile(file);
}

/** The "hot" ramp (black → red → yellow → white) premultiplied by its blend weight, per heat byte. */
const HOT = (() => {
  const lut = new Float32Array(256 * 4);
  for (let v = 0; v < 256; v++) {
    const p = v / 255;
    const a = p < 0.1 ? 0 : 0.6 * p;
    lut[v * 4] = Math.min(1, p * 3) * 255 * a;
    lut[v * 4 + 1] = Math.min(1, Math.max(0, p * 3 - 1)) * 255 * a;
    lut[v * 4 + 2] = Math.min(1, Math.max(0, p * 3 - 2)) * 255 * a;
    lut[v * 4 + 3] = 1 - a;
  }
  return lut;
})();

/**
 * The blend as lookup tables, one per channel, indexed by heat byte × 256 + image byte: the same float
 * arithmetic as `src * keep + hot` stored into a Uint8Array, computed once instead of per pixel.
 */
const BLEND = (() => {
  const tables = [new Uint8Array(65536), new Uint8Array(65536), new Uint8Array(65536)];
  for (let v = 0; v < 256; v++) {
    const keep = HOT[v * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const add = HOT[v * 4 + c];
      const t = tables[c];
      for (let s = 0; s < 256; s++) t[(v << 8) | s] = s * keep + add;
    }
  }
  return tables;
})();
/** Heat bytes below this leave the image untouched (the ramp's weight is 0 there). */
const FIRST_TINTED = (() => {
  let v = 0;
  while (v < 256 && HOT[v * 4 + 3] === 1 && HOT[v * 4] === 0 && HOT[v * 4 + 1] === 0 && HOT[v * 4 + 2] === 0) v++;
  return v;
})();

/** The image, the heatmap blended where the lesion probability is high, and each finding's box. */
export async function writeOverlayPng(image: RGBImage, heat: Uint8Array, findings: Finding[], file: string): Promise<void> {
  const { width, height } = image;
  const src = image.data;
  const out = new Uint8Array(src);
  const [R, G, B] = BLEND;
  for (let i = 0, o = 0; i < width * height; i++, o += 3) {
    const h = heat[i];
    if (h < FIRST_TINTED) continue;
    const k = h << 8;
    out[o] = R[k | src[o]];
    out[o + 1] = G[k | src[o + 1]];
    out[o + 2] = B[k | src[o + 2]];
  }
  const t = Math.max(2, Math.round(Math.max(width, height) / 300));
  for (const f of findings) {
    const [x0, y0, x1, y1] = f.box.map(Math.round);
    const paint = (x: number, y: number) => {
      if (x < 0 || y < 0 || x >= width || y >= height) return;
      const o = (y * width + x) * 3;
      out[o] = 0;
      out[o + 1] = 255;
      out[o + 2] = 0;
    };
    for (let k = 0; k < t; k++) {
      for (let x = x0; x < x1; x++) {
        paint(x, y0 + k);
        paint(x, y1 - 1 - k);
      }
      for (let y = y0; y < y1; y++) {
        paint(x0 + k, y);
        paint(x1 - 1 - k, y);
      }
    }
  }
  await sharp(out, { raw: { width, height, channels: 3 } }).png(PHOTO_PNG_OPTIONS).toFile(file);
}

/** `mismatch`: why the image is not the kind the model is for, when it was analysed anyway (`--force`). */
export const CSV_HEADER = 'image,width,height,model,backend,finding,x0,y0,x1,y1,score,area,mismatch';

/** One row per finding; an image without findings gets one row with empty finding columns. */
export function csvRows(entry: { image: string; width: number; height: number; model: string; backend: string; findings: Finding[]; mismatch?: string }): string[] {
  const head = [entry.image, entry.width, entry.height, entry.model, entry.backend].map(csvField).join(',');
  const tail = csvField(entry.mismatch ?? '');
  if (!entry.findings.length) return [`${head},,,,,,,,${tail}`];
  return entry.findings.map((f, i) => `${head},${i + 1},${f.box.join(',')},${f.score.toFixed(4)},${f.area},${tail}`);
}
