/** Refuses declared image sizes that would need absurd memory, before anything is allocated for them. */
import { imagingError } from './errors.ts';

/** Decoded bytes of all frames together. */
export const MAX_DECODED_BYTES = 2 * 1024 ** 3;
export const MAX_DIMENSION = 65535;
export const MAX_FRAMES = 100_000;

export interface DeclaredSize {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

export function checkDeclaredSize(s: DeclaredSize, file: string, limit = MAX_DECODED_BYTES): void {
  if (!(s.rows > 0) || !(s.columns > 0)) throw imagingError('DECODE_FAILED', file, `image has no size (rows ${s.rows}, columns ${s.columns})`);
  if (s.rows > MAX_DIMENSION || s.columns > MAX_DIMENSION) {
    throw imagingError('TOO_LARGE', file, `declared size ${s.columns}x${s.rows} exceeds ${MAX_DIMENSION} pixels on a side`);
  }
  if (s.frames > MAX_FRAMES) throw imagingError('TOO_LARGE', file, `declares ${s.frames} frames (at most ${MAX_FRAMES})`);
  if (![1, 3, 4].includes(s.samplesPerPixel)) throw imagingError('UNSUPPORTED', file, `Samples per Pixel ${s.samplesPerPixel} is not supported (1 or 3)`);
  if (![1, 8, 16, 32, 64].includes(s.bitsAllocated)) throw imagingError('UNSUPPORTED', file, `Bits Allocated ${s.bitsAllocated} is not supported`);
  const bytes = s.rows * s.columns * s.frames * s.samplesPerPixel * Math.max(1, s.bitsAllocated / 8);
  if (bytes > limit) {
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    throw imagingError('TOO_LARGE', file, `declared image (${s.columns}x${s.rows}, ${s.frames} frame(s), ${s.samplesPerPixel} sample(s) of ${s.bitsAllocated} bits) needs ${gib(bytes)}; the limit is ${gib(limit)}`);
  }
}

/**
 * Most bytes one PNG/JPEG/TIFF frame may take through the pipeline (see rasterPipelineBytes), checked from
 * the header before anything is decoded. 1 GiB keeps clinical images open with room to spare (a 4096²
 * 16-bit mammogram needs 192 MiB, a 5355x4915 one 301 MiB, a 1920x1072 endoscopy frame 18 MiB, a 50 MP RGB
 * photograph 432 MiB) and refuses the few-KB files that declare 16000² (2.4 GiB) or more.
 */
export const MAX_RASTER_BYTES = 1024 ** 3;

export interface RasterSize {
  width: number;
  height: number;
  /** Samples the pipeline keeps per pixel: 1 (grey, alpha dropped) or 3 (RGB). */
  channels: 1 | 3;
  bits: 8 | 16;
  /**
   * Bytes per pixel the decoder itself keeps for the whole image beyond the pipeline's: a progressive JPEG
   * holds every coefficient until its last scan (2 bytes per sample of each of its components, CMYK 4).
   */
  decoderBytes?: number;
}

/** Bytes per pixel the raster pipeline holds at its peak for one frame. */
function rasterBytesPerPixel(s: Pick<RasterSize, 'channels' | 'bits' | 'decoderBytes'>): number {
  const stored = s.channels * (s.bits / 8);
  // sharp's output buffer and the copy the frame keeps; grey frames become Float32 values (RGB 16-bit
  // frames an 8-bit copy; RGB 8-bit ones are shown as stored); the RGB8 display image (and its grey plane).
  const values = s.channels === 1 ? 4 : s.bits === 16 ? 3 : 0;
  const display = s.channels === 1 ? 1 + 3 : 3;
  return 2 * stored + values + display + (s.decoderBytes ?? 0);
}

export function rasterPipelineBytes(s: RasterSize): number {
  return s.width * s.height * rasterBytesPerPixel(s);
}

/** The most pixels a frame of this kind may declare within `limit`: sharp's limitInputPixels, the second line. */
export function rasterPixelLimit(s: Pick<RasterSize, 'channels' | 'bits' | 'decoderBytes'>, limit = MAX_RASTER_BYTES): number {
  return Math.floor(limit / rasterBytesPerPixel(s));
}

export function checkRasterSize(s: RasterSize, file: string, limit = MAX_RASTER_BYTES): void {
  if (!(s.width > 0) || !(s.height > 0)) throw imagingError('DECODE_FAILED', file, `image has no size (${s.width}x${s.height})`);
  const bytes = rasterPipelineBytes(s);
  if (bytes > limit) {
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    const kind = `${s.channels === 1 ? 'grey' : 'RGB'}, ${s.bits}-bit`;
    throw imagingError(
      'TOO_LARGE',
      file,
      `declared size ${s.width}x${s.height} (${kind}, ${(s.width * s.height / 1e6).toFixed(0)} megapixels) would need ${gib(bytes)} to decode and display; the limit is ${gib(limit)} (at most ${(rasterPixelLimit(s, limit) / 1e6).toFixed(0)} megapixels of this kind)`,
    );
  }
}

/**
 * Most bytes one DICOM frame may take through the pipeline (see framePipelineBytes), checked from the header
 * (and again from the codestream's own declaration) before anything is allocated for it. The same 1 GiB as
 * rasters: a 4096² 16-bit frame needs 256 MiB, a 5355x4915 mammogram 402 MiB; the few-KB files that declare
 * 16000² (3 GiB) or 40000² (19 GiB) are refused.
 */
export const MAX_FRAME_BYTES = 1024 ** 3;

export interface FrameShape {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  /** PALETTE COLOR frames are shown as RGB. */
  colour: boolean;
}

/** Bytes per stored sample in memory (1-bit data unpack to a byte; 32/64-bit floats keep their width). */
function storedSampleBytes(bitsAllocated: number): number {
  return bitsAllocated <= 8 ? 1 : bitsAllocated <= 16 ? 2 : bitsAllocated <= 32 ? 4 : 8;
}

/**
 * What one frame costs at the pipeline's peak: the stored samples four times over (the codec's own buffer,
 * e.g. the wasm heap, its output copy, the typed container, a colour-layout conversion), then the values
 * shown (Float32 for grey, RGB8 for colour) and the RGB8 display image (with its grey plane).
 */
export function framePipelineBytes(s: FrameShape): number {
  const pixels = s.rows * s.columns;
  const stored = pixels * s.samplesPerPixel * storedSampleBytes(s.bitsAllocated);
  const shown = s.colour || s.samplesPerPixel > 1 ? 3 + 3 : 4 + 1 + 3;
  return 4 * stored + pixels * shown;
}

export function checkFrameBudget(s: FrameShape, file: string, limit = MAX_FRAME_BYTES): void {
  const bytes = framePipelineBytes(s);
  if (bytes > limit) {
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    throw imagingError(
      'TOO_LARGE',
      file,
      `declared frame ${s.columns}x${s.rows} (${s.samplesPerPixel} sample(s) of ${s.bitsAllocated} bits, ${(s.rows * s.columns / 1e6).toFixed(0)} megapixels) would need ${gib(bytes)} to decode and display; the limit is ${gib(limit)} per frame`,
    );
  }
}

/**
 * Wall-clock budget for decoding one frame in the imaging worker, from what the header declares: a fixed
 * part plus a per-sample cost per codec, several times what each codec takes on this hardware (OpenJPEG,
 * the slowest, decodes ≈ 15 M samples/s; CharLS and libjpeg-turbo ≈ 50). A decoder still busy past it is
 * stopped (its thread killed and replaced): damaged JPEG-LS streams kept CharLS busy 3-12 s on 500 pixels.
 */
export const DECODE_BUDGET = {
  baseMs: 750,
  /** Nanoseconds per declared sample, by codec family. */
  nsPerSample: { j2k: 400, jpegls: 150, jpeg: 250, rle: 40, deflate: 40, native: 25, raster: 100 } as Record<string, number>,
  /**
   * A raster page's fixed part: sharp's clock runs while the machine is busy with other work (training's
   * threads, other decodes), so a small frame gets seconds, not the worker's 750 ms.
   */
  rasterBaseMs: 5_000,
  /** Never more than this (the old single watchdog). */
  maxMs: 60_000,
  /** Parsing a file (and inflating a deflated dataset): fixed part and per-byte cost. */
  parseBaseMs: 2_000,
  parseNsPerByte: 100,
};

export function frameBudgetMs(family: string, samples: number): number {
  const ns = DECODE_BUDGET.nsPerSample[family] ?? DECODE_BUDGET.nsPerSample.j2k;
  return Math.min(DECODE_BUDGET.maxMs, Math.ceil(DECODE_BUDGET.baseMs + (samples * ns) / 1e6));
}

/**
 * Wall-clock budget for sharp to decode one raster page, in whole seconds (sharp's `timeout`): a fixed
 * part plus a cost per declared sample, several times what libvips takes here (≈ 50 M samples/s for JPEG,
 * PNG and TIFF). A TIFF can make a decoder work far past its size: one compressed tile listed 418,000
 * times, or 16 MB of JPEG tables read again for every tile, kept sharp busy for minutes. sharp stops the
 * pipeline when the budget runs out (a JPEG's scans are checked before, since libjpeg reads them all before
 * sharp can look at the clock).
 */
export function rasterBudgetSeconds(samples: number): number {
  return Math.ceil(Math.min(DECODE_BUDGET.maxMs, DECODE_BUDGET.rasterBaseMs + (samples * DECODE_BUDGET.nsPerSample.raster) / 1e6) / 1000);
}

export function parseBudgetMs(bytes: number): number {
  return Math.min(DECODE_BUDGET.maxMs, Math.ceil(DECODE_BUDGET.parseBaseMs + (bytes * DECODE_BUDGET.parseNsPerByte) / 1e6));
}

/**
 * The most a deflated dataset may inflate to when its header cannot bound it sooner (the header's declared
 * pixel data bound it as soon as the inflated bytes reach them, see dicom/parse.ts).
 */
export const MAX_INFLATED_DATASET_BYTES = 1024 ** 3;
