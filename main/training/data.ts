/**
 * Training and evaluation datasets: where the samples are, a seeded split, letterboxed decoding with an
 * in-memory cache, and the lesion-map targets.
 *
 * Three sources, one `Sample` shape:
 *  - masks: `DIR/images/*` + `DIR/masks/<same stem>.*` (kvasir-seg: JPEG masks, threshold 127; busi: PNG)
 *  - coco: `DIR/*.json` (COCO: images, annotations with bbox [x, y, w, h]) + images beside it or in
 *    `DIR/images/`; the lesion map target is the filled boxes
 *  - review: the studio's review store; accepted, edited and added findings become lesions (their brush
 *    mask when drawn, else the filled box). See `ReviewAnnotationSource`.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { AUGMENTATION_RANGES, type AugmentationPreset, type Box, StudioError } from '../../preload/contract.ts';
import { letterbox as detectorLetterbox, letterboxGeometry, resize } from '../detector/preprocess.ts';

export type DatasetFormat = 'masks' | 'coco' | 'review';
export type SplitName = 'train' | 'val' | 'test';

export interface Sample {
  /** Unique, stable id within the dataset (the image's file name relative to the dataset). */
  id: string;
  image: string;
  /** A binary mask file (values > 127 are lesion). */
  mask?: string;
  /** Lesion boxes in original pixels, used when there is no mask file. */
  boxes?: Box[];
  /** Run-length or raw lesion masks in original pixels (review store brush masks). */
  rasterMask?: () => Promise<{ width: number; height: number; data: Uint8Array }>;
}

export interface Dataset {
  root: string;
  format: DatasetFormat;
  samples: Sample[];
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp']);

function stem(file: string): string {
  return basename(file, extname(file));
}

/** Images with masks: `images/` and `masks/` folders matched by file stem. */
export function listMaskDataset(dir: string): Dataset {
  const root = resolve(dir);
  const imagesDir = join(root, 'images');
  const masksDir = join(root, 'masks');
  if (!existsSync(imagesDir) || !existsSync(masksDir)) throw new StudioError('NOT_FOUND', `${root} needs images/ and masks/ folders`, root);
  const masks = new Map<string, string>();
  for (const f of readdirSync(masksDir)) if (IMAGE_EXT.has(extname(f).toLowerCase())) masks.set(stem(f), join(masksDir, f));
  const samples: Sample[] = [];
  for (const f of readdirSync(imagesDir).sort()) {
    if (!IMAGE_EXT.has(extname(f).toLowerCase())) continue;
    const mask = masks.get(stem(f));
    if (mask) samples.push({ id: f, image: join(imagesDir, f), mask });
  }
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `no image in ${imagesDir} has a mask of the same name in ${masksDir}`, root);
  return { root, format: 'masks', samples };
}

interface CocoJson {
  images?: { id: number; file_name: string; width?: number; height?: number }[];
  annotations?: { image_id: number; bbox: [number, number, number, number] }[];
}

/** Images with COCO-style boxes. The JSON is `DIR/annotations.json` or the only `*.json` in DIR. */
export function listCocoDataset(dir: string): Dataset {
  const root = resolve(dir);
  let jsonPath = root;
  if (statSync(root).isDirectory()) {
    const candidates = readdirSync(root).filter((f) => f.toLowerCase().endsWith('.json'));
    const pick = candidates.find((f) => f === 'annotations.json') ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (!pick) throw new StudioError('NOT_FOUND', `${root}: expected annotations.json or exactly one COCO .json file`, root);
    jsonPath = join(root, pick);
  }
  let coco: CocoJson;
  try {
    coco = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new StudioError('DECODE_FAILED', `${jsonPath} is not valid JSON: ${(err as Error).message}`, jsonPath);
  }
  if (!Array.isArray(coco.images) || !Array.isArray(coco.annotations)) throw new StudioError('DECODE_FAILED', `${jsonPath} has no images/annotations arrays`, jsonPath);
  const base = statSync(root).isDirectory() ? root : resolve(root, '..');
  const boxes = new Map<number, Box[]>();
  for (const a of coco.annotations) {
    const [x, y, w, h] = a.bbox ?? [];
    if (![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) continue;
    const list = boxes.get(a.image_id) ?? [];
    list.push([x, y, x + w, y + h]);
    boxes.set(a.image_id, list);
  }
  const samples: Sample[] = [];
  for (const im of coco.images) {
    const direct = join(base, im.file_name);
    const image = existsSync(direct) ? direct : join(base, 'images', im.file_name);
    if (!existsSync(image)) continue;
    samples.push({ id: im.file_name, image, boxes: boxes.get(im.id) ?? [] });
  }
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `no image listed in ${jsonPath} exists`, jsonPath);
  return { root, format: 'coco', samples };
}

/**
 * What the training code needs from reviewed annotations: one entry per image with its confirmed lesions.
 * `reviewDataset` builds it from the review store; other annotation tools can implement it too.
 */
export interface ReviewAnnotationSource {
  images(): { path: string; lesions: { box: Box; mask?: { width: number; height: number; data: Uint8Array } }[] }[];
}

export function datasetFromReview(root: string, source: ReviewAnnotationSource): Dataset {
  const samples: Sample[] = [];
  for (const im of source.images()) {
    if (!existsSync(im.path)) continue;
    const masks = im.lesions.filter((l) => l.mask);
    const sample: Sample = { id: im.path, image: im.path, boxes: im.lesions.filter((l) => !l.mask).map((l) => l.box) };
    if (masks.length) {
      sample.rasterMask = async () => {
        const { width, height } = masks[0].mask!;
        const data = new Uint8Array(width * height);
        for (const m of masks) for (let i = 0; i < data.length; i++) if (m.mask!.data[i]) data[i] = 255;
        return { width, height, data };
      };
    }
    samples.push(sample);
  }
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `the review store at ${root} has no reviewed raster image`, root);
  return { root, format: 'review', samples };
}

/** The review store as a ReviewAnnotationSource: accepted, edited and added findings are lesions. */
export async function reviewDataset(storeFile: string): Promise<Dataset> {
  const { openStore } = await import('../review/store.ts');
  const { rleDecode } = await import('../review/rle.ts');
  const store = openStore(storeFile, { mustExist: true, readonly: true });
  try {
    const rows = store.reviewRows();
    const byImage = new Map<string, { path: string; lesions: { box: Box; mask?: { width: number; height: number; data: Uint8Array } }[] }>();
    for (const r of rows) {
      const entry = byImage.get(r.image.path) ?? { path: r.image.path, lesions: [] };
      byImage.set(r.image.path, entry);
      if (['accepted', 'edited', 'added'].includes(r.effective.decision)) {
        entry.lesions.push({ box: r.effective.box, ...(r.effective.mask ? { mask: rleDecode(r.effective.mask) } : {}) });
      }
    }
    return datasetFromReview(storeFile, { images: () => [...byImage.values()] });
  } finally {
    store.close();
  }
}

export async function openDataset(path: string, format: DatasetFormat): Promise<Dataset> {
  if (!existsSync(path)) throw new StudioError('NOT_FOUND', `no dataset at ${path}`, path);
  if (format === 'masks') return listMaskDataset(path);
  if (format === 'coco') return listCocoDataset(path);
  return reviewDataset(path);
}

// ---------------------------------------------------------------------------------------------------
// Split

/** mulberry32: a small, fast, seedable PRNG (the split and augmentation must be reproducible). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface Split {
  seed: number;
  ratios: [number, number, number];
  train: string[];
  val: string[];
  test: string[];
}

/** Seeded split of sample ids (sorted first, so the split does not depend on directory order). */
export function splitDataset(ids: string[], seed: number, ratios: [number, number, number] = [0.7, 0.15, 0.15]): Split {
  const order = shuffle([...ids].sort(), rng(seed));
  const total = ratios[0] + ratios[1] + ratios[2];
  const nTrain = Math.round((order.length * ratios[0]) / total);
  const nVal = Math.round((order.length * ratios[1]) / total);
  return { seed, ratios, train: order.slice(0, nTrain), val: order.slice(nTrain, nTrain + nVal), test: order.slice(nTrain + nVal) };
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/** Where the original image sits inside the square model input (top-left, as the detector places it). */
export interface Letterbox {
  size: number;
  scale: number;
  left: number;
  top: number;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

/** The detector's letterbox (main/detector/preprocess.ts): keep aspect, long side to `size`, image top-left, zero padding. */
export function letterbox(originalWidth: number, originalHeight: number, size: number): Letterbox {
  const g = letterboxGeometry(originalWidth, originalHeight, size);
  return { size, scale: g.scale, left: 0, top: 0, width: g.width, height: g.height, originalWidth, originalHeight };
}

export interface Decoded {
  id: string;
  /** size × size × 3 RGB bytes, letterboxed. */
  image: Uint8Array;
  /** size × size, 1 = lesion. */
  mask: Uint8Array;
  box: Letterbox;
}

const MAX_PIXELS = 64_000_000;

/**
 * Decode with sharp at full size, then letterbox with the detector's own resampling, so training sees
 * exactly the pixels inference will (bytes are kept: at most half a grey level from the float input).
 */
async function decodeImage(file: string, size: number): Promise<{ rgb: Uint8Array; box: Letterbox }> {
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    const meta = await sharp(file, { failOn: 'none' }).metadata();
    if ((meta.width ?? 0) * (meta.height ?? 0) > MAX_PIXELS) throw new StudioError('TOO_LARGE', `${file} is ${meta.width}x${meta.height}`, file);
    // Stored pixels, not EXIF-rotated ones: the studio's imaging loader (and so the detector at inference)
    // shows the stored pixels, and mask files are drawn on them; a rotated image would be scored against an
    // unrotated mask (or fail on its size when not square). No kvasir-seg or BUSI image has an orientation tag.
    raw = await sharp(file, { failOn: 'none' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (err instanceof StudioError) throw err;
    throw new StudioError('DECODE_FAILED', `cannot read ${file}: ${(err as Error).message}`, file);
  }
  const { width, height, channels } = raw.info;
  let rgb: Uint8Array = raw.data;
  if (channels !== 3) {
    rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = raw.data[i * channels + Math.min(c, channels - 1)];
  }
  const { input } = detectorLetterbox({ width, height, data: rgb }, size);
  const bytes = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, input[i])) * 255);
  return { rgb: bytes, box: letterbox(width, height, size) };
}

/** A full-size 1-channel mask placed like the image: resized with the same filter, thresholded at 127. */
function placeMask(full: ArrayLike<number>, width: number, height: number, box: Letterbox): Uint8Array {
  const inner = resize(full, width, height, 1, box.width, box.height);
  const out = new Uint8Array(box.size * box.size);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) if (inner[y * box.width + x] > 127) out[(y + box.top) * box.size + x + box.left] = 1;
  }
  return out;
}

async function maskFromFile(file: string, box: Letterbox): Promise<Uint8Array> {
  const { data, info } = await sharp(file, { failOn: 'none' }).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== box.originalWidth || info.height !== box.originalHeight) {
    throw new StudioError('DECODE_FAILED', `mask ${file} is ${info.width}x${info.height} but its image is ${box.originalWidth}x${box.originalHeight}`, file);
  }
  return placeMask(data, info.width, info.height, box);
}

function fillBoxes(boxes: Box[], box: Letterbox, into: Uint8Array): void {
  for (const [x0, y0, x1, y1] of boxes) {
    const a = Math.max(0, Math.floor(x0 * box.scale) + box.left);
    const b = Math.max(0, Math.floor(y0 * box.scale) + box.top);
    const c = Math.min(box.left + box.width, Math.ceil(x1 * box.scale) + box.left);
    const d = Math.min(box.top + box.height, Math.ceil(y1 * box.scale) + box.top);
    for (let y = b; y < d; y++) for (let x = a; x < c; x++) into[y * box.size + x] = 1;
  }
}

/** Decode one sample at `size` (letterboxed) with its lesion mask. */
export async function decodeSample(sample: Sample, size: number): Promise<Decoded> {
  const { rgb, box } = await decodeImage(sample.image, size);
  let mask: Uint8Array = new Uint8Array(size * size);
  if (sample.mask) mask = await maskFromFile(sample.mask, box);
  if (sample.rasterMask) {
    const m = await sample.rasterMask();
    const placed = placeMask(m.data, m.width, m.height, box);
    for (let i = 0; i < mask.length; i++) mask[i] |= placed[i];
  }
  if (sample.boxes?.length) fillBoxes(sample.boxes, box, mask);
  return { id: sample.id, image: rgb, mask, box };
}

/**
 * A sample's lesion mask at its image's own size (stored pixels, as the imaging loader shows them), 1 =
 * lesion: the mask file thresholded at 127 as training reads it, the review store's brush masks, and boxes
 * filled. For showing the ground truth over the image.
 */
export async function truthMask(sample: Sample): Promise<{ width: number; height: number; data: Uint8Array }> {
  const meta = await sharp(sample.image, { failOn: 'none' })
    .metadata()
    .catch((err: Error) => {
      throw new StudioError('DECODE_FAILED', `cannot read ${sample.image}: ${err.message}`, sample.image);
    });
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > MAX_PIXELS) throw new StudioError('TOO_LARGE', `${sample.image} is ${width}x${height}`, sample.image);
  const data = new Uint8Array(width * height);
  if (sample.mask) {
    const m = await sharp(sample.mask, { failOn: 'none' }).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
    if (m.info.width !== width || m.info.height !== height) {
      throw new StudioError('DECODE_FAILED', `mask ${sample.mask} is ${m.info.width}x${m.info.height} but its image is ${width}x${height}`, sample.mask);
    }
    for (let i = 0; i < data.length; i++) if (m.data[i] > 127) data[i] = 1;
  }
  if (sample.rasterMask) {
    const m = await sample.rasterMask();
    if (m.width === width && m.height === height) for (let i = 0; i < data.length; i++) data[i] |= m.data[i] ? 1 : 0;
  }
  for (const [x0, y0, x1, y1] of sample.boxes ?? []) {
    const [a, b] = [Math.max(0, Math.floor(x0)), Math.max(0, Math.floor(y0))];
    const [c, d] = [Math.min(width, Math.ceil(x1)), Math.min(height, Math.ceil(y1))];
    for (let y = b; y < d; y++) data.fill(1, y * width + a, y * width + Math.max(a, c));
  }
  return { width, height, data };
}

/** Decoded samples kept in memory as bytes (a 256² sample is ~260 KB), decoded a few at a time. */
export class SampleCache {
  private readonly cache = new Map<string, Promise<Decoded>>();
  constructor(
    private readonly samples: Map<string, Sample>,
    readonly size: number,
  ) {}

  get(id: string): Promise<Decoded> {
    let p = this.cache.get(id);
    if (!p) {
      const sample = this.samples.get(id);
      if (!sample) throw new StudioError('NOT_FOUND', `no sample '${id}' in the dataset`, id);
      p = decodeSample(sample, this.size);
      p.catch(() => this.cache.delete(id));
      this.cache.set(id, p);
    }
    return p;
  }

  async warm(ids: string[], concurrency = 4, onEach?: (done: number) => void): Promise<void> {
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        await this.get(id);
        onEach?.(++done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  }
}

// ---------------------------------------------------------------------------------------------------
// Augmentation and targets

export interface Augmented {
  image: Float32Array;
  mask: Uint8Array;
}

/**
 * Random flips, rotation, scale, shift, brightness, contrast, gamma and speckle within a preset's
 * ranges, applied to the letterboxed bytes with one inverse affine map (bilinear for the image, nearest
 * for the mask). The standard preset draws exactly the numbers it always drew, so its runs reproduce.
 */
export function augment(d: Decoded, random: () => number, enabled = true, preset: AugmentationPreset = 'standard'): Augmented {
  const S = d.box.size;
  const image = new Float32Array(S * S * 3);
  if (!enabled) {
    for (let i = 0; i < image.length; i++) image[i] = d.image[i] / 255;
    return { image, mask: d.mask };
  }
  const r = AUGMENTATION_RANGES[preset];
  const flipX = random() < 0.5;
  const flipY = random() < 0.5;
  const angle = ((random() * 2 - 1) * r.rotationDeg * Math.PI) / 180;
  const scale = r.scale.from + random() * r.scale.span;
  const brightness = (random() * 2 - 1) * r.brightness;
  const contrast = r.contrast.from + random() * r.contrast.span;
  const tx = r.translate ? (random() * 2 - 1) * r.translate * S : 0;
  const ty = r.translate ? (random() * 2 - 1) * r.translate * S : 0;
  const gamma = r.gamma !== 1 ? Math.exp((random() * 2 - 1) * Math.log(r.gamma)) : 1;
  // The noise has its own stream, seeded from the main one, so it costs the main stream one draw.
  const noise = r.speckle ? gaussian(rng(Math.floor(random() * 4294967296))) : undefined;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const c = (S - 1) / 2;
  const mask = new Uint8Array(S * S);
  const src = d.image;
  // Gamma on the 256 source levels, before interpolation: a pow per pixel would cost more than the rest.
  const level = gamma !== 1 ? Float32Array.from({ length: 256 }, (_, i) => (i / 255) ** gamma) : undefined;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      // Output pixel → source pixel: undo flip and shift, then inverse rotate/scale about the centre.
      const ox = (flipX ? S - 1 - x : x) - c - tx;
      const oy = (flipY ? S - 1 - y : y) - c - ty;
      const sx = cos * ox + sin * oy + c;
      const sy = -sin * ox + cos * oy + c;
      const o = (y * S + x) * 3;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < 0 || y0 < 0 || x0 >= S - 1 || y0 >= S - 1) continue;
      const fx = sx - x0;
      const fy = sy - y0;
      const i00 = (y0 * S + x0) * 3;
      const i01 = i00 + 3;
      const i10 = i00 + S * 3;
      const i11 = i10 + 3;
      const speckle = noise ? 1 + r.speckle * noise() : 1;
      for (let ch = 0; ch < 3; ch++) {
        // Two branches so the standard preset computes exactly what it always did (no table).
        const v = level
          ? (level[src[i00 + ch]] * (1 - fx) + level[src[i01 + ch]] * fx) * (1 - fy) + (level[src[i10 + ch]] * (1 - fx) + level[src[i11 + ch]] * fx) * fy
          : ((src[i00 + ch] * (1 - fx) + src[i01 + ch] * fx) * (1 - fy) + (src[i10 + ch] * (1 - fx) + src[i11 + ch] * fx) * fy) / 255;
        image[o + ch] = Math.min(1, Math.max(0, (v * speckle - 0.5) * contrast + 0.5 + brightness));
      }
      const mx = Math.round(sx);
      const my = Math.round(sy);
      mask[y * S + x] = d.mask[my * S + mx];
    }
  }
  return { image, mask };
}

/** Standard normal draws from a uniform stream (Box–Muller, both of each pair used). */
export function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/** The S/4 lesion-map target: the fraction of each 4×4 cell covered by lesion (area averaging). */
export function downsampleMask(mask: Uint8Array, size: number, factor = 4): Float32Array {
  const s = size / factor;
  const out = new Float32Array(s * s);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < size; y++) {
    const row = (Math.floor(y / factor) * s) | 0;
    for (let x = 0; x < size; x++) if (mask[y * size + x]) out[row + Math.floor(x / factor)] += norm;
  }
  return out;
}

/** 1 inside the letterboxed image, 0 in the padding: metrics ignore the padding. */
export function validRegion(box: Letterbox): Uint8Array {
  const v = new Uint8Array(box.size * box.size);
  for (let y = box.top; y < box.top + box.height; y++) v.fill(1, y * box.size + box.left, y * box.size + box.left + box.width);
  return v;
}
