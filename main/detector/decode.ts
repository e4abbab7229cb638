/**
 * An image file as the RGB pixels the detector is given: the one decode that batch analysis (and so the
 * review store's findings), training and evaluation share, so a model trains on exactly the pixels it is
 * run on. DICOM (every transfer syntax, MONOCHROME1, modality and VOI LUTs) and rasters alike go through
 * imaging's loader, whose worker, budgets and watchdog turn hostile or broken files into a StudioError
 * naming the file; its first frame is mapped with its default window (toRGB8, preload/windowing.ts), as
 * the viewer's Run does (detector/handlers.ts).
 */
import { readFile } from 'node:fs/promises';
import { loadImageFile, toRGB8 } from '../imaging/index.ts';
import { decodeRasterPage, rasterKind, readRasterHeader } from '../imaging/raster.ts';
import type { ImageFacts } from './fit.ts';
import type { RGBImage } from './preprocess.ts';

/**
 * 8-bit sRGB PNG and JPEG (the usual photographs, such as endoscopy frames) straight through sharp, with the
 * raster loader's own checks, budgets and strict decode (imaging/raster.ts readRasterHeader and
 * decodeRasterPage) but without its frame cache and copies (≈ 1.6 of 4.5 ms CPU per polyp image). A file
 * the checks refuse is refused here, in the loader's words; anything else goes through imaging.
 */
async function decodePlainRGB(path: string): Promise<RGBImage | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    // The loader says why (no such file, a folder, no permission).
    return undefined;
  }
  const kind = rasterKind(bytes);
  if (kind !== 'jpeg' && kind !== 'png') return undefined;
  const header = await readRasterHeader(bytes, path);
  if (!header.plainRGB8 || header.frames > 1) return undefined;
  const { data, info } = await decodeRasterPage(bytes, header, 0, path, (image) => image.removeAlpha().toColourspace('srgb').raw());
  if (info.width !== header.width || info.height !== header.height || info.channels !== 3) return undefined;
  return { width: header.width, height: header.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
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
