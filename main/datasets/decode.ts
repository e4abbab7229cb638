/**
 * Samples decoded for a model: letterboxed exactly as the detector letterboxes (main/detector/preprocess.ts),
 * with their lesion masks placed alike, and a cache of decoded samples.
 */
import { readFile } from 'node:fs/promises';
import { type Box, StudioError } from '../../preload/contract.ts';
import { decodeImage as decodeDetectorImage, imageSize } from '../detector/decode.ts';
import { decodeRasterPage, readRasterHeader } from '../imaging/raster.ts';
import { letterbox as detectorLetterbox, letterboxGeometry, resize, type RGBImage } from '../detector/preprocess.ts';
import type { Sample } from './formats.ts';

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

/**
 * The detector's own pixels of the image (main/detector/decode.ts: what `studio analyze` and the viewer's Run
 * give the model, DICOM and rasters alike), letterboxed with its own resampling, so training sees exactly
 * the pixels inference will (bytes are kept: at most half a grey level from the float input). Stored pixels,
 * not EXIF-rotated ones: mask files are drawn on them (no kvasir-seg or BUSI image has an orientation tag). Imaging's
 * loader guards hostile and broken files (its worker, watchdog and per-frame memory budget, checked from
 * the header before anything is decoded): a bad file fails as a StudioError naming it, for that sample only.
 * A multi-frame DICOM trains on its first frame, the frame analysis runs on: neither a Sample nor the review
 * store names a frame.
 */
async function decodeImage(file: string, size: number): Promise<{ rgb: Uint8Array; box: Letterbox }> {
  let image: RGBImage;
  try {
    image = await decodeDetectorImage(file);
  } catch (err) {
    if (err instanceof StudioError) throw err;
    throw new StudioError('DECODE_FAILED', `cannot read ${file}: ${(err as Error).message}`, file);
  }
  const { input } = detectorLetterbox(image, size);
  const bytes = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, input[i])) * 255);
  return { rgb: bytes, box: letterbox(image.width, image.height, size) };
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

/**
 * A mask file as grey bytes (alpha dropped; a lesion where the value is above 127, as every reader of masks
 * takes it). A mask is an untrusted file like any image: it is read by the raster loader's rules (its bytes,
 * declared size, strict decode and time budget: imaging/raster.ts), so a JPEG of empty scans, a PNG
 * declaring 100000² or a mask cut short is refused, not guessed at.
 */
export async function decodeMaskFile(file: string): Promise<{ data: Buffer; info: { width: number; height: number } }> {
  const bytes = await readFile(file);
  const header = await readRasterHeader(bytes, file);
  return decodeRasterPage(bytes, header, 0, file, (image) => image.removeAlpha().greyscale().raw());
}

async function maskFromFile(file: string, box: Letterbox): Promise<Uint8Array> {
  const { data, info } = await decodeMaskFile(file);
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
  // The size the detector's pixels have (a DICOM's columns × rows, from its header), which is what the review
  // store recorded for the image and what its masks and boxes are drawn on.
  const { width, height } = await imageSize(sample.image).catch((err: Error) => {
    if (err instanceof StudioError) throw err;
    throw new StudioError('DECODE_FAILED', `cannot read ${sample.image}: ${err.message}`, sample.image);
  });
  const data = new Uint8Array(width * height);
  if (sample.mask) {
    const m = await decodeMaskFile(sample.mask);
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

/** 1 inside the letterboxed image, 0 in the padding: metrics ignore the padding. */
export function validRegion(box: Letterbox): Uint8Array {
  const v = new Uint8Array(box.size * box.size);
  for (let y = box.top; y < box.top + box.height; y++) v.fill(1, y * box.size + box.left, y * box.size + box.left + box.width);
  return v;
}
