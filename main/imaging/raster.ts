/** PNG, JPEG and TIFF (8 and 16 bit, grey and RGB) through sharp, as LoadedImages like DICOM ones. */
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { StudioError } from '../../preload/contract.ts';
import { byteSize, frameMemory, newImageKey } from './cache.ts';
import { asImagingError, imagingError } from './errors.ts';
import { checkDeclaredSize, checkRasterSize, rasterBudgetSeconds, rasterPixelLimit } from './guard.ts';
import { jpegStructure, MAX_JPEG_SCANS, tooManyScans } from './codecs/headers.ts';
import { minMax, windowFromData } from './pixels/display.ts';
import type { FrameData, LoadedImage, StoredFrame } from './types.ts';

const RASTER_MAGIC: [string, number[]][] = [
  ['png', [0x89, 0x50, 0x4e, 0x47]],
  ['jpeg', [0xff, 0xd8, 0xff]],
  ['tiff', [0x49, 0x49, 0x2a, 0x00]],
  ['tiff', [0x4d, 0x4d, 0x00, 0x2a]],
];

export function rasterKind(bytes: Uint8Array): string | undefined {
  return RASTER_MAGIC.find(([, magic]) => magic.every((b, i) => bytes[i] === b))?.[0];
}

/** Decoder messages that mean the pixel data are cut short or damaged (the decoder guessed what is missing). */
const DAMAGE = /premature end|truncat|corrupt|bad huffman|read error|crc|unexpected end|invalid (?:code|distance|block)|incorrect data check|not enough (?:image )?data/i;
/** Damage warnings about bytes after the last scan: every pixel was decoded. */
const HARMLESS = /extraneous bytes before marker 0xd9/i;

function damageIn(err: unknown): string | undefined {
  const lines = String((err as Error)?.message ?? err).split('\n').map((l) => l.trim());
  return lines.find((l) => DAMAGE.test(l) && !HARMLESS.test(l));
}

/**
 * Runs a sharp pipeline that fails on any decoder warning, so a truncated or corrupt file is refused rather
 * than opened with guessed pixels. Warnings that are not about damaged data (a TIFF declaring MinIsBlack
 * with 3 samples, FACTS.md; the invalid SOS parameters of some cameras' JPEGs) get a second decode that
 * fails on errors only, which still refuses a file cut short.
 */
async function decodeStrict<T>(name: string, run: (failOn: 'warning' | 'error') => Promise<T>): Promise<T> {
  let strictError: unknown;
  try {
    return await run('warning');
  } catch (err) {
    strictError = err;
  }
  const damage = damageIn(strictError);
  if (damage) throw imagingError('DECODE_FAILED', name, `the file is truncated or corrupt: ${damage}`);
  // Out of time or over the pixel limit: a second decode would only spend as much again.
  if (/^timeout|exceeds pixel limit/.test(String((strictError as Error)?.message))) throw strictError;
  try {
    return await run('error');
  } catch (err) {
    const again = damageIn(err);
    if (again) throw imagingError('DECODE_FAILED', name, `the file is truncated or corrupt: ${again}`);
    throw err;
  }
}

/** Most IFDs a TIFF's chain is followed through (as many as a DICOM may have frames). */
const MAX_TIFF_IFDS = 100_000;

/**
 * The JPEG-compressed strips and tiles of a classic TIFF (Compression 7, or 6 for old-style JPEG), as views
 * of the file, through every IFD of its chain, each to `visit` (a loop or an offset outside the file ends
 * the walk; the decoder refuses those itself). libtiff refuses a strip of more than 100 scans on its own,
 * but libvips decodes JPEG tiles itself, with no such limit: a 67 KB tiled TIFF of 5000 empty scans opened,
 * slowly. A strip shared by several entries (writers point blank tiles at one) is visited once; entries
 * that would have the walk read more than twice the file (overlapping strips, arrays listed again and
 * again) are refused, so the walk itself stays linear in the file's size.
 */
function forEachTiffJpegSegment(bytes: Uint8Array, name: string, visit: (segment: Uint8Array) => void): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = bytes[0] === 0x49;
  const u16 = (at: number) => view.getUint16(at, little);
  const u32 = (at: number) => view.getUint32(at, little);
  const fits = (at: number, n: number) => at >= 0 && at + n <= bytes.length;
  let budget = 2 * bytes.length;
  const spend = (n: number) => {
    budget -= n;
    if (budget < 0) throw imagingError('DECODE_FAILED', name, "the TIFF's directories list more strip or tile data than the file holds (the file is damaged or was made to break readers)");
  };
  // A SHORT or LONG array's values (TIFF types 3 and 4), inline when they fit in the entry's 4 bytes.
  const values = (entry: number): number[] => {
    const type = u16(entry + 2);
    const count = u32(entry + 4);
    const size = type === 3 ? 2 : type === 4 ? 4 : 0;
    const at = count * size <= 4 ? entry + 8 : u32(entry + 8);
    if (!size || !fits(at, count * size)) return [];
    spend(count * size);
    return Array.from({ length: count }, (_, k) => (size === 2 ? u16(at + 2 * k) : u32(at + 4 * k)));
  };
  const seen = new Set<number>();
  const visited = new Set<string>();
  let ifd = fits(4, 4) ? u32(4) : 0;
  while (ifd && fits(ifd, 2) && !seen.has(ifd) && seen.size < MAX_TIFF_IFDS) {
    seen.add(ifd);
    const entries = u16(ifd);
    if (!fits(ifd + 2, entries * 12 + 4)) break;
    spend(entries * 12);
    let compression = 1;
    const arrays: { offsets?: number; counts?: number } = {};
    for (let k = 0; k < entries; k++) {
      const entry = ifd + 2 + 12 * k;
      const tag = u16(entry);
      if (tag === 259) compression = values(entry)[0] ?? 1;
      else if (tag === 273 || tag === 324) arrays.offsets = entry;
      else if (tag === 279 || tag === 325) arrays.counts = entry;
    }
    if ((compression === 6 || compression === 7) && arrays.offsets !== undefined) {
      const offsets = values(arrays.offsets);
      const counts = arrays.counts === undefined ? [] : values(arrays.counts);
      offsets.forEach((at, k) => {
        const end = Math.min(bytes.length, at + (counts[k] ?? 0));
        const key = `${at}:${end}`;
        if (at >= end || visited.has(key)) return;
        visited.add(key);
        spend(end - at);
        visit(bytes.subarray(at, end));
      });
    }
    ifd = u32(ifd + 2 + entries * 12);
  }
}

/**
 * What is checked of a raster file's bytes before any library parses them: that they are PNG, JPEG or TIFF
 * (sharp reads SVG, GIF, WebP, HEIF and more, none of which the studio opens, whatever the file is called),
 * and that no JPEG stream in them (the file itself, or a JPEG-compressed TIFF's strips and tiles) holds more
 * scans than an encoder writes (codecs/headers.ts MAX_JPEG_SCANS).
 */
export function checkRasterBytes(bytes: Uint8Array, name: string): void {
  const kind = rasterKind(bytes);
  if (!kind) throw imagingError('UNSUPPORTED', name, 'not a PNG, JPEG or TIFF image (its first bytes are none of theirs), nor DICOM');
  const check = (stream: Uint8Array) => {
    // A stream that does not start with SOI is the decoder's to refuse, in its own words.
    if (stream[0] !== 0xff || stream[1] !== 0xd8) return;
    if (jpegStructure(stream).scans > MAX_JPEG_SCANS) throw imagingError('DECODE_FAILED', name, tooManyScans(kind === 'jpeg' ? 'JPEG' : "TIFF's JPEG-compressed data"));
  };
  if (kind === 'jpeg') check(bytes);
  else if (kind === 'tiff') forEachTiffJpegSegment(bytes, name, check);
}

/** What a raster file's header declares, checked against the budgets before anything is decoded. */
export interface RasterHeader {
  format: string;
  width: number;
  height: number;
  frames: number;
  /** The pipeline keeps 1 (grey) or 3 (RGB) samples per pixel, of `bits` bits. */
  channels: 1 | 3;
  bits: 8 | 16;
  /** Samples per pixel of the encoded image (4 for CMYK, alpha included). */
  inputChannels: number;
  /** sRGB with 8-bit samples and no alpha: the detector's pixels as they are. */
  plainRGB8: boolean;
  /** sharp's pixel limit and time budget for one page (guard.ts rasterPixelLimit, rasterBudgetSeconds). */
  limitInputPixels: number;
  timeoutSeconds: number;
}

/**
 * A PNG, JPEG or TIFF's header, read after `checkRasterBytes` and checked before any pixel is decoded: the
 * pipeline's memory for one page (with what a progressive JPEG's decoder keeps), all pages together, and
 * the sample types the studio reads. Read leniently (real TIFFs declaring MinIsBlack with 3 samples warn,
 * FACTS.md); decoding is strict (`decodeRasterPage`).
 */
export async function readRasterHeader(input: Buffer, name: string): Promise<RasterHeader> {
  checkRasterBytes(input, name);
  let meta: Metadata;
  try {
    // Header only: sharp's own pixel limit would hide the declared size behind 'exceeds pixel limit'.
    meta = await sharp(input, { failOn: 'none', limitInputPixels: false }).metadata();
  } catch (err) {
    throw asImagingError(err, name, 'not a readable PNG, JPEG or TIFF image');
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const frames = meta.format === 'tiff' ? Math.max(1, meta.pages ?? 1) : 1;
  const wide = meta.depth === 'ushort' || meta.depth === 'short';
  if (meta.depth && !['uchar', 'char', 'ushort', 'short'].includes(meta.depth)) {
    throw imagingError('UNSUPPORTED', name, `${meta.format} with ${meta.depth} samples is not supported (8 or 16-bit integers only)`);
  }
  const inputChannels = meta.channels ?? 3;
  const channels: 1 | 3 = inputChannels <= 2 ? 1 : 3;
  const bits = wide ? 16 : 8;
  // libjpeg keeps a progressive image's coefficients (16 bits a sample) until its last scan has been read.
  const decoderBytes = meta.format === 'jpeg' && meta.isProgressive ? 2 * inputChannels : 0;
  checkRasterSize({ width, height, channels, bits, decoderBytes }, name);
  checkDeclaredSize({ rows: height, columns: width, frames, samplesPerPixel: channels, bitsAllocated: bits }, name);
  return {
    format: meta.format ?? 'image',
    width,
    height,
    frames,
    channels,
    bits,
    inputChannels,
    plainRGB8: meta.depth === 'uchar' && inputChannels === 3 && meta.space === 'srgb' && !meta.hasAlpha,
    // Second line: sharp refuses a page that declares more pixels than the budget allows (another page of a TIFF).
    limitInputPixels: rasterPixelLimit({ channels, bits, decoderBytes }),
    timeoutSeconds: rasterBudgetSeconds(width * height * inputChannels),
  };
}

/**
 * One page of a checked raster through `pipeline` (what to do with the decoded image: the colourspace, raw
 * samples), strictly (`decodeStrict`: damaged data are refused, not guessed), within the header's pixel
 * limit and time budget. Every reader of raster pixels decodes through here: the viewer's loader, the
 * detector's pixels and a dataset's mask files.
 */
export async function decodeRasterPage(input: Buffer, header: RasterHeader, page: number, name: string, pipeline: (image: Sharp) => Sharp): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await decodeStrict(name, (failOn) =>
      pipeline(sharp(input, { failOn, limitInputPixels: header.limitInputPixels, ...(header.frames > 1 ? { page } : {}) }).timeout({ seconds: header.timeoutSeconds })).toBuffer({ resolveWithObject: true }),
    );
  } catch (err) {
    const message = String((err as Error)?.message);
    if (/exceeds pixel limit/.test(message)) {
      throw imagingError('TOO_LARGE', name, `page ${page} declares more than ${(header.limitInputPixels / 1e6).toFixed(0)} megapixels, the most a ${header.bits}-bit ${header.channels === 1 ? 'grey' : 'RGB'} frame may have`);
    }
    if (/^timeout/.test(message)) {
      throw imagingError('DECODE_FAILED', name, `decoding took more than ${header.timeoutSeconds} s, far longer than a ${header.width}x${header.height} ${header.format} takes; stopped (the file is damaged or was made to keep decoders busy)`);
    }
    throw asImagingError(err, name, `cannot decode ${header.format}`);
  }
}

export async function loadRaster(bytes: Uint8Array, displayName: string, path?: string): Promise<LoadedImage> {
  const name = path ?? displayName;
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = await readRasterHeader(input, name);
  const { width, height, frames, bits } = header;
  const grey = header.channels === 1;
  const wide = bits === 16;
  const channels = header.channels;
  const format = header.format;

  const decode = async (page: number): Promise<StoredFrame> => {
    if (!Number.isInteger(page) || page < 0 || page >= frames) throw new StudioError('NOT_FOUND', `${name}: frame ${page} does not exist (${frames} frame(s))`, name);
    const { data, info } = await decodeRasterPage(input, header, page, name, (image) =>
      image
        .removeAlpha()
        // extractChannel would rescale 16-bit grey to 8 bits: convert the colourspace instead.
        .toColourspace(grey ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb')
        .raw(wide ? { depth: 'ushort' } : undefined),
    );
    if (info.width !== width || info.height !== height) throw imagingError('DECODE_FAILED', name, `page ${page} is ${info.width}x${info.height}, not ${width}x${height}`);
    const copy = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    const arr = wide ? new Uint16Array(copy) : new Uint8Array(copy);
    return { data: arr, shape: grey ? [height, width] : [height, width, 3] };
  };

  const key = newImageKey();
  const stored = (i: number) => frameMemory.get(`${key}/stored/${i}`, () => decode(i), byteSize);
  const frame = (i: number): Promise<FrameData> => frameMemory.get(`${key}/display/${i}`, () => display(i), byteSize);
  const display = async (i: number): Promise<FrameData> => {
    const s = await stored(i);
    if (!grey) {
      const data = wide ? Uint8Array.from(s.data as Uint16Array, (v) => v >> 8) : (s.data as Uint8Array);
      return { frame: i, rows: height, columns: width, channels: 3, data, invert: false, min: 0, max: 255 };
    }
    const values = Float32Array.from(s.data as Uint8Array | Uint16Array);
    const { min, max } = minMax(values);
    return { frame: i, rows: height, columns: width, channels: 1, data: values, invert: false, min, max };
  };

  const first = await frame(0);
  // 8-bit greys are meant to be seen as stored; 16-bit files often use a fraction of the range (12-bit
  // detectors), so there the window from the data comes first.
  const full = { center: 2 ** (bits - 1), width: 2 ** bits, explanation: 'full range' };
  const windows = grey ? (wide ? [windowFromData(first.data), full] : [full, windowFromData(first.data)]) : [];
  return {
    info: {
      name: displayName,
      ...(path ? { path } : {}),
      kind: 'raster',
      rows: height,
      columns: width,
      frames,
      channels,
      photometric: grey ? 'MONOCHROME2' : 'RGB',
      bitsStored: bits,
      study: {},
      series: {},
      instance: {},
      windows,
      valueRange: { min: first.min, max: first.max },
    },
    frame,
    stored,
    release: () => frameMemory.release(key),
    meta: () => ({ file: displayName, format, rows: height, columns: width, frames, channels, bitsAllocated: bits, bitsStored: bits, pixelRepresentation: 0, photometricInterpretation: grey ? 'MONOCHROME2' : 'RGB', window: windows }),
  };
}
