/**
 * Lesion-free views cut from a masks dataset whose every image holds a lesion (BUSI: `../shared` has no
 * lesion-free breast ultrasound frame; issue 23). For each image of the chosen parts of a model's split, the
 * largest axis-aligned rectangles that keep clear of the lesion mask dilated by a margin, kept only when each
 * side is at least a share of the image's (a frame-like view, not a sliver), at most a few per image; written
 * as PNG with a manifest.csv whose group is the source image, so the studio's split keeps one image's crops
 * in one part (datasets/formats.ts `manifestGroups`).
 *
 *   node --import tsx scripts/busi-lesion-free.ts --model busi-cbam --parts train,val   # training negatives
 *   node --import tsx scripts/busi-lesion-free.ts --model busi-cbam --parts test        # held-out negatives
 *   [--data DIR (default: $STUDIO_DATA_DIR/busi)] [--out DIR (default: $STUDIO_HOME/derived/busi-lesion-free-<parts>)]
 *   [--margin 0.15] [--min-side 0.45] [--per-image 2] [--max-shared 0.5] [--replace]
 *   [--with-lesion: instead, one band per image holding its lesion, as a masks dataset (images/, masks/): the
 *    shortcut probe, scored like any dataset]
 *
 * Crops come only from images the model's split.json puts in the named parts, so a crop of a test image is
 * never trained on. The output is derived data: it goes outside the project (refused inside it), never into git.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join, relative, resolve, isAbsolute } from 'node:path';
import { parseArgs } from 'node:util';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * The mask grown by `margin` pixels in every direction (a square neighbourhood, so an axis-aligned crop that
 * avoids it stays at least `margin` pixels from every lesion pixel along both axes). 1 = blocked.
 */
export function dilate(mask: Uint8Array, width: number, height: number, margin: number): Uint8Array {
  const m = Math.max(0, Math.round(margin));
  // Summed-area table of lesion pixels: a pixel is blocked when its (2m+1)² window holds any.
  const sat = new Int32Array((width + 1) * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += mask[y * width + x] ? 1 : 0;
      sat[(y + 1) * (width + 1) + x + 1] = sat[y * (width + 1) + x + 1] + row;
    }
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - m);
    const y1 = Math.min(height, y + m + 1);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(0, x - m);
      const x1 = Math.min(width, x + m + 1);
      const n = sat[y1 * (width + 1) + x1] - sat[y0 * (width + 1) + x1] - sat[y1 * (width + 1) + x0] + sat[y0 * (width + 1) + x0];
      out[y * width + x] = n > 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * The share of the smaller rectangle that the other covers: 1 when one lies inside the other. (IoU would let a
 * crop sit wholly inside a larger one, a zoomed-in copy of a view already taken.)
 */
export function sharedShare(a: Rect, b: Rect): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  return (ix * iy) / Math.min(a.w * a.h, b.w * b.h);
}

/**
 * The largest rectangles of free (0) pixels at least `minWidth` × `minHeight`, largest first, at most `max`,
 * each sharing at most `maxShared` of its area (or of the other's, the smaller) with every one already
 * taken, so each crop shows at least the rest as new tissue. Candidates are the rectangles of the classic
 * histogram search, one bottom row at a time, each as tall and as wide as the free pixels above that row
 * allow: every maximal free rectangle is among them, so the first is the largest there is; a later one is
 * never a narrower slice of a view already taken.
 */
export function largestFreeRects(blocked: Uint8Array, width: number, height: number, options: { minWidth: number; minHeight: number; max: number; maxShared: number }): Rect[] {
  const { minWidth, minHeight, max, maxShared } = options;
  const heights = new Int32Array(width + 1); // heights[width] stays 0: the sentinel that empties the stack
  const stack = new Int32Array(width + 1);
  const candidates: Rect[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) heights[x] = blocked[y * width + x] ? 0 : heights[x] + 1;
    let top = 0;
    for (let x = 0; x <= width; x++) {
      while (top > 0 && heights[stack[top - 1]] >= heights[x]) {
        const h = heights[stack[--top]];
        const left = top > 0 ? stack[top - 1] + 1 : 0;
        const w = x - left;
        if (h >= minHeight && w >= minWidth) candidates.push({ x: left, y: y - h + 1, w, h });
      }
      stack[top++] = x;
    }
  }
  // Largest first; ties in a fixed order (top, then left) so the output does not depend on the search's.
  candidates.sort((a, b) => b.w * b.h - a.w * a.h || a.y - b.y || a.x - b.x);
  const picked: Rect[] = [];
  for (const c of candidates) {
    if (picked.length >= max) break;
    if (picked.every((p) => sharedShare(p, c) <= maxShared)) picked.push(c);
  }
  return picked;
}

export interface CropOptions {
  /** Clearance around the lesion, as a share of the image's shorter side. */
  margin: number;
  /** Each side of a crop at least this share of the image's same side. */
  minSide: number;
  /** Crops per image at most. */
  perImage: number;
  /** Two crops of one image share at most this much of the smaller one's area. */
  maxShared: number;
}

export const CROP_DEFAULTS: CropOptions = { margin: 0.15, minSide: 0.45, perImage: 2, maxShared: 0.5 };

/** Where an image's lesion-free crops lie (mask: 1 = lesion, the image's own size). */
export function lesionFreeCrops(mask: Uint8Array, width: number, height: number, options: CropOptions = CROP_DEFAULTS): Rect[] {
  const blocked = dilate(mask, width, height, options.margin * Math.min(width, height));
  return largestFreeRects(blocked, width, height, {
    minWidth: Math.ceil(options.minSide * width),
    minHeight: Math.ceil(options.minSide * height),
    max: options.perImage,
    maxShared: options.maxShared,
  });
}

/**
 * A crop shaped like most lesion-free ones (the image's full width, a band of at least `minSide` of its
 * height) that holds the whole lesion with the margin around it: the shortcut probe. A model that learned
 * "a cropped band holds nothing" rather than "this tissue holds nothing" misses lesions in these.
 */
export function lesionBand(mask: Uint8Array, width: number, height: number, options: CropOptions = CROP_DEFAULTS): Rect | undefined {
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (mask[y * width + x]) {
        top = Math.min(top, y);
        bottom = y;
      }
  if (bottom < 0) return undefined;
  const margin = Math.round(options.margin * Math.min(width, height));
  const h = Math.min(height, Math.max(Math.ceil(options.minSide * height), bottom - top + 1 + 2 * margin));
  const y = Math.max(0, Math.min(height - h, Math.round((top + bottom + 1) / 2 - h / 2)));
  return { x: 0, y, w: width, h };
}

/** The split part names a run may ask for. */
const PARTS = ['train', 'val', 'test'] as const;
type Part = (typeof PARTS)[number];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string', default: 'busi-cbam' },
      parts: { type: 'string', default: 'train,val' },
      out: { type: 'string' },
      margin: { type: 'string', default: String(CROP_DEFAULTS.margin) },
      'min-side': { type: 'string', default: String(CROP_DEFAULTS.minSide) },
      'per-image': { type: 'string', default: String(CROP_DEFAULTS.perImage) },
      'max-shared': { type: 'string', default: String(CROP_DEFAULTS.maxShared) },
      replace: { type: 'boolean', default: false },
      'with-lesion': { type: 'boolean', default: false },
    },
  });
  const { loadSettings, PROJECT_ROOT } = await import('../main/settings.ts');
  const settings = loadSettings();
  const parts = (values.parts as string).split(',').map((p) => p.trim()) as Part[];
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--parts: ${p} is not one of ${PARTS.join(', ')}`);
  const data = resolve(values.data ?? join(settings.dataDir ?? join(PROJECT_ROOT, '..', 'shared', 'data'), 'busi'));
  const modelDir = existsSync(values.model as string) ? resolve(values.model as string) : join(settings.modelsDir, values.model as string);
  const out = resolve(values.out ?? join(settings.homeDir, 'derived', `busi-${values['with-lesion'] ? 'lesion-band' : 'lesion-free'}-${parts.join('-')}`));
  const rel = relative(PROJECT_ROOT, out);
  // Derived images are data: never inside the project, where git (or a packaged build) could pick them up.
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) throw new Error(`--out ${out} lies inside the project: write derived data elsewhere`);
  const options: CropOptions = { margin: Number(values.margin), minSide: Number(values['min-side']), perImage: Number(values['per-image']), maxShared: Number(values['max-shared']) };

  const split = JSON.parse(readFileSync(join(modelDir, 'split.json'), 'utf8')) as Record<Part, string[]>;
  const sources = parts.flatMap((p) => split[p] ?? []);
  if (sources.length === 0) throw new Error(`${modelDir}/split.json names no image in ${parts.join(', ')}`);

  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!values.replace) throw new Error(`${out} is not empty: pass --replace to rewrite its crops`);
    // Only what an earlier run wrote: stale crops would otherwise be read as negatives beside the new ones.
    for (const f of readdirSync(out)) if (f === 'manifest.csv' || extname(f) === '.png' || f === 'images' || f === 'masks') rmSync(join(out, f), { recursive: true });
  }
  mkdirSync(out, { recursive: true });

  const sharp = (await import('sharp')).default;
  const masks = new Map(readdirSync(join(data, 'masks')).map((f) => [basename(f, extname(f)), join(data, 'masks', f)]));
  const rows = ['file,group,source,x,y,w,h'];
  let withCrop = 0;
  for (const source of sources) {
    // manifest.csv is read by splitting on commas (datasets/formats.ts): a name with one would shift its columns.
    if (source.includes(',')) throw new Error(`${source}: a file name with a comma cannot go in manifest.csv`);
    const stem = basename(source, extname(source));
    const maskFile = masks.get(stem);
    if (!maskFile) throw new Error(`${source} has no mask in ${join(data, 'masks')}`);
    const image = join(data, 'images', source);
    const meta = await sharp(image).metadata();
    const { data: pixels, info } = await sharp(maskFile).greyscale().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== meta.width || info.height !== meta.height) throw new Error(`${source}: mask ${info.width}×${info.height} against image ${meta.width}×${meta.height}`);
    const mask = new Uint8Array(info.width * info.height);
    for (let i = 0; i < mask.length; i++) mask[i] = pixels[i * info.channels] > 127 ? 1 : 0;
    if (values['with-lesion']) {
      const r = lesionBand(mask, info.width, info.height, options);
      if (!r) continue;
      withCrop++;
      const file = `${stem}.png`;
      for (const [dir, from] of [['images', image], ['masks', maskFile]] as const) {
        mkdirSync(join(out, dir), { recursive: true });
        await sharp(from).extract({ left: r.x, top: r.y, width: r.w, height: r.h }).png().toFile(join(out, dir, file));
      }
      rows.push([file, source, relative(data, image), r.x, r.y, r.w, r.h].join(','));
      continue;
    }
    const crops = lesionFreeCrops(mask, info.width, info.height, options);
    if (crops.length) withCrop++;
    for (const [k, r] of crops.entries()) {
      const file = `${stem}_${k}.png`;
      await sharp(image).extract({ left: r.x, top: r.y, width: r.w, height: r.h }).png().toFile(join(out, file));
      rows.push([file, source, relative(data, image), r.x, r.y, r.w, r.h].join(','));
    }
  }
  writeFileSync(join(out, 'manifest.csv'), `${rows.join('\n')}\n`);
  console.log(JSON.stringify({ out, model: basename(modelDir), parts, sourceImages: sources.length, imagesWithCrop: withCrop, crops: rows.length - 1, options }));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
