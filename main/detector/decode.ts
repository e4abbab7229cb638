/**
 * An image file as the RGB pixels the detector is given: the one decode that batch analysis (and so the
 * review store's findings), training and evaluation share, so a model trains on exactly the pixels it is
 * run on. DICOM (every transfer syntax, MONOCHROME1, modality and VOI LUTs) and rasters alike go through
 * imaging's loader, whose worker, budgets and watchdog turn hostile or broken files into a StudioError
 * naming the file; its first frame is mapped with its default window (toRGB8, preload/windowing.ts), as
 * the viewer's Run does (detector/handlers.ts).
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { loadImageFile, toRGB8 } from '../imaging/index.ts';
import { checkRasterBytes, rasterKind } from '../imaging/raster.ts';
import { checkDeclaredSize } from '../imaging/guard.ts';
import type { ImageFacts } from './fit.ts';
import type { RGBImage } from './preprocess.ts';

/**
 * 8-bit sRGB PNG and JPEG (the usual photographs, such as endoscopy frames) straight through sharp, with the
 * same operations and size guard as imaging's raster loader but without its frame cache and copies (≈ 1.6 of
 * 4.5 ms CPU per polyp image). Anything else, and any failure, goes through imaging (which names the error).
 */
async function decodePlainRGB(path: string): Promise<RGBImage | undefined> {
  try {
    const bytes = await readFile(path);
    const kind = rasterKind(bytes);
    if (kind !== 'jpeg' && kind !== 'png') return undefined;
    // The loader's own checks of the bytes; on a refusal the loader says why (below).
    checkRasterBytes(bytes, path);
    const meta = await sharp(bytes, { failOn: 'none' }).metadata();
    if (meta.depth !== 'uchar' || meta.channels !== 3 || meta.space !== 'srgb' || meta.hasAlpha || (meta.pages ?? 1) > 1) return undefined;
    const width = meta.width ?? 0;
    const height = meta.height ?? 0;
    checkDeclaredSize({ rows: height, columns: width, frames: 1, samplesPerPixel: 3, bitsAllocated: 8 }, path);
    const { data, info } = await sharp(bytes, { failOn: 'none' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.width !== width || info.height !== height || info.channels !== 3) return undefined;
    return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch {
    return undefined;
  }
}

/** An image file as 8-bit RGB for the detector: exactly what imaging's loader and toRGB8 give (first frame, default window). */
export async function decodeImage(path: string): Promise<RGBImage> {
  return (await decodeForDetector(path)).rgb;
}

/** The detector's RGB pixels of an image file, with what its header says it is (for the model fit check). */
export async function decodeForDetector(path: string): Promise<ImageFacts & { rgb: RGBImage }> {
  const plain = await decodePlainRGB(path);
  if (plain) return { kind: 'raster', rgb: plain };
  const loaded = await loadImageFile(path);
  try {
    const frame = await loaded.frame(0);
    const w = loaded.info.windows[0];
    return { kind: loaded.info.kind, modality: loaded.info.modality, rgb: toRGB8(frame, w ? { center: w.center, width: w.width } : undefined) };
  } finally {
    // The RGB bytes are a copy: a batch or a training set of thousands of files must not keep each one's bytes and frames.
    loaded.release?.();
  }
}

/**
 * An image file's size in pixels as decodeForDetector gives it (columns × rows of the first frame; every
 * frame of a DICOM object has the same), from its header: a DICOM's frames are not decoded for it.
 */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  const loaded = await loadImageFile(path);
  try {
    return { width: loaded.info.columns, height: loaded.info.rows };
  } finally {
    loaded.release?.();
  }
}
