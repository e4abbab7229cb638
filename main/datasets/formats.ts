/**
 * What a sample and a label are, for every dataset format the studio reads (training, evaluation and
 * Compare all open data through here):
 *  - masks: `DIR/images/*` + `DIR/masks/<same stem>.*` (kvasir-seg: JPEG masks, threshold 127; busi: PNG)
 *  - coco: `DIR/*.json` (COCO: images, annotations with bbox [x, y, w, h]) + images beside it or in
 *    `DIR/images/`; the lesion map target is the filled boxes
 *  - review: the studio's review store, by the one rule in ./review.ts.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { type Box, StudioError } from '../../preload/contract.ts';
import { isInside, realish } from '../fs/names.ts';
import { reviewDataset, type ReviewRead } from './review.ts';

export type DatasetFormat = 'masks' | 'coco' | 'review';

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
  /**
   * Declared lesion-free (it came from a negatives folder): split apart from the lesion images so every
   * split holds both in proportion. An image with an empty mask, no COCO annotation or only rejected
   * findings is lesion-free too, by its truth, without this flag.
   */
  negative?: boolean;
  /** Samples of one group (near-duplicate video frames, one patient) always land in the same split. */
  group?: string;
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

/** Image files of a folder, sorted: `dir/images/*` when it has an images/ folder, else `dir/*`. */
function imageFiles(dir: string): { folder: string; files: string[] } {
  const folder = existsSync(join(dir, 'images')) ? join(dir, 'images') : dir;
  return { folder, files: readdirSync(folder).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort() };
}

/**
 * Near-duplicate groups from a folder's manifest.csv: its `group` column, else `dhash8_border_cropped`
 * (a perceptual hash: consecutive frames of one video share it), by file name. None without a manifest.
 */
export function manifestGroups(dir: string): Map<string, string> {
  const groups = new Map<string, string>();
  const file = join(dir, 'manifest.csv');
  if (!existsSync(file)) return groups;
  const [head, ...rows] = readFileSync(file, 'utf8').split(/\r?\n/).filter(Boolean);
  const columns = head.split(',');
  const name = columns.indexOf('file');
  const key = columns.includes('group') ? columns.indexOf('group') : columns.indexOf('dhash8_border_cropped');
  if (name < 0 || key < 0) return groups;
  for (const row of rows) {
    const cells = row.split(',');
    if (cells[name] && cells[key]) groups.set(cells[name], cells[key]);
  }
  return groups;
}

/**
 * A folder of lesion-free images (`dir/images/*` or `dir/*`), ids prefixed with `prefix` so they never
 * collide with the lesion images' ids; grouped by the folder's manifest.csv when it has one.
 */
export function listNegatives(dir: string, prefix: string): Sample[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new StudioError('NOT_FOUND', `no folder of lesion-free images at ${root}`, root);
  const { folder, files } = imageFiles(root);
  const groups = manifestGroups(root);
  const samples = files.map((f): Sample => ({ id: `${prefix}${f}`, image: join(folder, f), negative: true, ...(groups.has(f) ? { group: `${prefix}${groups.get(f)}` } : {}) }));
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `no image in ${folder}`, root);
  return samples;
}

/** Images with masks: `images/` and `masks/` folders matched by file stem, and lesion-free images in `negatives/` if there is one. */
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
  if (existsSync(join(root, 'negatives'))) samples.push(...listNegatives(join(root, 'negatives'), 'negatives/'));
  return { root, format: 'masks', samples };
}

interface CocoJson {
  images?: unknown[];
  annotations?: unknown[];
}

/**
 * The largest COCO JSON read. JSON.parse holds the event loop for the whole file and builds an object per
 * value: 150 MB of empty objects took 79 s and 5 GB. 32 MiB holds a few hundred thousand annotations,
 * far more than a medical dataset has.
 */
export const MAX_COCO_BYTES = 32 * 1024 ** 2;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

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
  const size = statSync(jsonPath).size;
  if (size > MAX_COCO_BYTES) throw new StudioError('TOO_LARGE', `${jsonPath} is ${(size / 1024 ** 2).toFixed(0)} MiB; a COCO file may be at most ${MAX_COCO_BYTES / 1024 ** 2} MiB`, jsonPath);
  let coco: CocoJson;
  try {
    coco = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new StudioError('DECODE_FAILED', `${jsonPath} is not valid JSON: ${(err as Error).message}`, jsonPath);
  }
  if (!isObject(coco) || !Array.isArray(coco.images) || !Array.isArray(coco.annotations)) throw new StudioError('DECODE_FAILED', `${jsonPath} has no images/annotations arrays`, jsonPath);
  const base = statSync(root).isDirectory() ? root : resolve(root, '..');
  const boxes = new Map<unknown, Box[]>();
  // Entries that are not objects, and boxes that are not four finite numbers, are skipped, as a box of no size is.
  for (const a of coco.annotations) {
    if (!isObject(a) || !Array.isArray(a.bbox)) continue;
    const [x, y, w, h] = a.bbox as unknown[];
    if (!(typeof x === 'number' && typeof y === 'number' && typeof w === 'number' && typeof h === 'number') || ![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) continue;
    const list = boxes.get(a.image_id) ?? [];
    list.push([x, y, x + w, y + h]);
    boxes.set(a.image_id, list);
  }
  const samples: Sample[] = [];
  // One file listed under two names (`a.png`, `./a.png`, `images/a.png`) would be two samples that a split
  // can put on both sides: its test image trained on. Refused, naming both.
  const named = new Map<string, string>();
  for (const im of coco.images) {
    if (!isObject(im) || typeof im.file_name !== 'string') continue;
    const direct = join(base, im.file_name);
    const image = existsSync(direct) ? direct : join(base, 'images', im.file_name);
    // A file_name may name a subfolder, never a file outside the dataset's folder (`../../etc/…`, or a link out).
    if (!existsSync(image) || !isInside(realish(base), realish(image))) continue;
    const real = realish(image);
    const first = named.get(real);
    if (first !== undefined) throw new StudioError('INVALID_PAYLOAD', `${jsonPath} lists one image twice, as "${first}" and "${im.file_name}": a split could put it on both sides; list it once`, jsonPath);
    named.set(real, im.file_name);
    samples.push({ id: im.file_name, image, boxes: boxes.get(im.id) ?? [] });
  }
  if (samples.length === 0) throw new StudioError('NOT_FOUND', `no image listed in ${jsonPath} exists`, jsonPath);
  return { root, format: 'coco', samples };
}

export interface OpenOptions {
  /** Folders of lesion-free images added to the dataset (ids `<folder name>/<file>`). */
  negatives?: readonly string[];
  /** A review store's reading already taken (review.ts `reviewedDataset`): the dataset is built from it, not a second read. */
  reviewed?: ReviewRead;
}

export async function openDataset(path: string, format: DatasetFormat, options: OpenOptions = {}): Promise<Dataset> {
  if (!existsSync(path)) throw new StudioError('NOT_FOUND', `no dataset at ${path}`, path);
  const dataset = format === 'masks' ? listMaskDataset(path) : format === 'coco' ? listCocoDataset(path) : await reviewDataset(path, options.reviewed);
  const ids = new Set(dataset.samples.map((s) => s.id));
  for (const folder of options.negatives ?? []) {
    for (const sample of listNegatives(folder, `${basename(resolve(folder))}/`)) {
      if (ids.has(sample.id)) throw new StudioError('INVALID_PAYLOAD', `${sample.id} is in the dataset twice: name the negatives folder differently`, folder);
      ids.add(sample.id);
      dataset.samples.push(sample);
    }
  }
  return dataset;
}

