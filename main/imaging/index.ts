/**
 * The imaging layer: DICOM (every transfer syntax in the conformance corpus) and PNG/JPEG/TIFF rasters,
 * opened lazily as LoadedImages, plus the display mapping (window, VOI LUT, inversion) and thumbnails.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { asImagingError, imagingError } from './errors.ts';
import { loadDicom } from './dicom/image.ts';
import { RASTER_EXT } from './files.ts';
import { MAX_DECODED_BYTES } from './guard.ts';
import { loadRaster, rasterKind } from './raster.ts';
import { reloadable } from './reload.ts';
import type { LoadedImage } from './types.ts';

export type { FrameData, LoadedImage, StoredFrame } from './types.ts';
export { listImageFiles } from './files.ts';
export { thumbnail, toRGB8, type WindowChoice } from './pixels/display.ts';

export async function loadImageFile(path: string): Promise<LoadedImage> {
  let size: number;
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw imagingError('UNSUPPORTED', path, 'is a folder, not an image file');
    size = s.size;
  } catch (err) {
    throw asImagingError(err, path, 'cannot open');
  }
  if (size > MAX_DECODED_BYTES) throw imagingError('TOO_LARGE', path, `file is ${(size / 1024 ** 3).toFixed(1)} GiB; the limit is ${MAX_DECODED_BYTES / 1024 ** 3} GiB`);
  if (size === 0) throw imagingError('DECODE_FAILED', path, 'file is empty');
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw asImagingError(err, path, 'cannot read');
  }
  // The file's bytes are ours: DICOM parsing hands them to the imaging worker and back without a copy.
  const image = await load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path, path, true);
  return reloadable(path, image, size, (bytes) => load(bytes, path, path, true));
}

export async function loadImageBytes(bytes: Uint8Array, name: string): Promise<LoadedImage> {
  if (bytes.length === 0) throw imagingError('DECODE_FAILED', name, 'file is empty');
  if (bytes.length > MAX_DECODED_BYTES) throw imagingError('TOO_LARGE', name, 'file is larger than 2 GiB');
  return load(bytes, name, undefined, false);
}

async function load(bytes: Uint8Array, name: string, path: string | undefined, owned: boolean): Promise<LoadedImage> {
  const isDicm = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  const display = path ? basename(path) : name;
  try {
    if (!isDicm && (rasterKind(bytes) || RASTER_EXT.has(extname(name).toLowerCase()))) return await loadRaster(bytes, display, path);
    // The caller's bytes stay the caller's: the worker gets a copy of bytes we do not own.
    return await loadDicom(owned ? bytes : bytes.slice(), display, path);
  } catch (err) {
    throw asImagingError(err, path ?? name);
  }
}
