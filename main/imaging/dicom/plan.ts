/**
 * The parts of DICOM loading that read untrusted bytes, run inside the imaging worker (codecs/worker.ts)
 * under its watchdog, never on the caller's event loop: parsing the dataset (inflating a deflated one,
 * bounded), reading the header (LUTs and palettes expanded), checking the declared image against the memory
 * budgets, finding the frames; and per frame, decoding and converting the samples to the stored values and
 * the values shown. What comes back is plain data (structured-clone safe).
 */
import { decodeCompressedFrame, isSupportedSyntax, type CodecOutput } from '../codecs/index.ts';
import { asImagingError, imagingError } from '../errors.ts';
import { checkDeclaredSize, checkFrameBudget, type FrameShape } from '../guard.ts';
import { planarToInterleaved, ybr422FrameSamples, ybr422ToYbrFull, ybrFullToRgb } from '../pixels/colour.ts';
import { minMax } from '../pixels/display.ts';
import { applyModality, applyPalette } from '../pixels/lut.ts';
import { allocSamples, bytesPerSample, maskStored, samplesFromBytes, swapWords, unpackBits, type SampleFormat, type Samples } from '../pixels/samples.ts';
import type { FrameData, StoredFrame } from '../types.ts';
import { indexFrames } from './frames.ts';
import { readHeader, type DicomHeader } from './header.ts';
import { parseDicomBytes, type DataSet, type Element } from './parse.ts';
import { NATIVE_SYNTAXES, TS_NAMES, sopClassName } from './uids.ts';

/** The header as plain data: per-frame rescale as arrays instead of a function. */
export type PlainHeader = Omit<DicomHeader, 'frameRescale'> & { frameRescales?: { slopes: Float64Array; intercepts: Float64Array } };

export interface DicomPlan {
  header: PlainHeader;
  transferSyntax: string;
  framing: 'part10' | 'no-preamble' | 'raw-dataset';
  pixel:
    | { native: true; offset: number; length: number; swapWord: number; samplesPerFrame: number }
    | { native: false; frames: { offset: number; length: number }[][]; samplesPerFrame: number };
  /** Set when the offsets refer to other bytes than the file's: the inflated dataset, or the file behind a made-up preamble. */
  dataBytes?: Uint8Array;
}

export function frameShape(h: Pick<DicomHeader, 'rows' | 'columns' | 'samplesPerPixel' | 'bitsAllocated' | 'photometric'>): FrameShape {
  return { rows: h.rows, columns: h.columns, samplesPerPixel: h.samplesPerPixel, bitsAllocated: h.bitsAllocated, colour: h.photometric === 'PALETTE COLOR' || h.samplesPerPixel > 1 };
}

function safeHeader(ds: DataSet, name: string): DicomHeader {
  try {
    return readHeader(ds);
  } catch (err) {
    throw asImagingError(err, name, 'unreadable image header');
  }
}

/** Every budget the declared image must fit, before anything is allocated for its pixels. */
function checkBudgets(h: DicomHeader, name: string): void {
  checkDeclaredSize({ rows: h.rows, columns: h.columns, frames: h.frames, samplesPerPixel: h.samplesPerPixel, bitsAllocated: h.bitsAllocated }, name);
  checkFrameBudget(frameShape(h), name);
}

/** Native pixel bytes the header declares for all frames. */
function declaredPixelBytes(h: DicomHeader): number {
  const perFrame = h.photometric === 'YBR_FULL_422' ? ybr422FrameSamples(h.rows, h.columns) : h.rows * h.columns * h.samplesPerPixel;
  return h.bitsAllocated === 1 ? Math.ceil((perFrame * h.frames) / 8) : perFrame * h.frames * bytesPerSample({ bitsAllocated: h.bitsAllocated, floatBits: h.floatBits });
}

/** A deflated dataset may inflate to its Pixel Data element's end plus some trailing elements, no more. */
function inflationBound(head: DataSet, name: string): number | undefined {
  const h = safeHeader(head, name);
  if (h.rows > 0 && h.columns > 0) checkBudgets(h, name);
  const el = head.elements.x7fe00010;
  if (!el) return undefined;
  const declared = declaredPixelBytes(h) + 1024 ** 2;
  // Undefined length: deflate carries native pixel data only, never larger than the image the header
  // declares, so that bounds it too (unbounded, a 1 MB file inflated to the 1 GiB limit, then twice that).
  const length = el.length === 0xffffffff || el.length === undefined ? declared : Math.min(el.length, declared);
  return el.dataOffset + length + 16 * 1024 ** 2;
}

export async function planDicom(bytes: Uint8Array, name: string): Promise<DicomPlan> {
  const parsed = await parseDicomBytes(bytes, name, (head) => inflationBound(head, name));
  const { dataSet: ds, transferSyntax } = parsed;
  const h = safeHeader(ds, name);
  const pixel: Element | undefined = ds.elements.x7fe00010 ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (!pixel) {
    const what = sopClassName(h.sopClassUid);
    throw imagingError('UNSUPPORTED', name, `no Pixel Data: this DICOM object (${what ?? `SOP class ${h.sopClassUid ?? 'unknown'}`}) holds no image`);
  }
  if (!isSupportedSyntax(transferSyntax)) throw imagingError('UNSUPPORTED', name, `transfer syntax ${transferSyntax} is not supported`);
  checkBudgets(h, name);
  if (h.samplesPerPixel === 4) throw imagingError('UNSUPPORTED', name, `${h.photometric} with 4 samples per pixel is retired and not supported`);
  if (h.photometric === 'PALETTE COLOR' && !h.palette) throw imagingError('DECODE_FAILED', name, 'PALETTE COLOR image without a readable palette (0028,1101-1203)');

  const format = sampleFormat(h);
  const native = NATIVE_SYNTAXES.has(transferSyntax) || !pixel.encapsulatedPixelData;
  const samplesPerFrame = native && h.photometric === 'YBR_FULL_422' ? ybr422FrameSamples(h.rows, h.columns) : h.rows * h.columns * h.samplesPerPixel;

  let planPixel: DicomPlan['pixel'];
  if (native) {
    const needBits = h.bitsAllocated === 1 ? samplesPerFrame * h.frames : samplesPerFrame * h.frames * bytesPerSample(format) * 8;
    const available = Math.min(pixel.length, ds.byteArray.length - pixel.dataOffset);
    if (available * 8 < needBits) {
      throw imagingError('DECODE_FAILED', name, `pixel data are truncated: ${available} bytes present, ${Math.ceil(needBits / 8)} needed for ${h.frames} frame(s) of ${h.columns}x${h.rows}`);
    }
    // Native big-endian pixel data: OW (and wider) words are byte-swapped; OB bytes stay as they are.
    const swapWord = parsed.bigEndian ? (h.floatBits ? h.floatBits / 8 : h.bitsAllocated > 8 ? h.bitsAllocated / 8 : pixel.vr === 'OB' ? 1 : 2) : 1;
    planPixel = { native: true, offset: pixel.dataOffset, length: available, swapWord, samplesPerFrame };
  } else {
    // GDCM and DCMTK refuse such files too: a missing delimiter means the file was cut short.
    if (ds.warnings?.some((w) => w.includes('missing sequence delimiter'))) {
      throw imagingError('DECODE_FAILED', name, 'file is truncated: the encapsulated Pixel Data end without their sequence delimiter');
    }
    try {
      planPixel = { native: false, frames: indexFrames(ds, pixel, h.frames, transferSyntax).frames, samplesPerFrame };
    } catch (err) {
      throw asImagingError(err, name, 'cannot find the frames in the encapsulated pixel data');
    }
  }

  const { frameRescale, ...rest } = h;
  const header: PlainHeader = rest;
  if (frameRescale) {
    const slopes = new Float64Array(h.frames);
    const intercepts = new Float64Array(h.frames);
    for (let i = 0; i < h.frames; i++) {
      const r = frameRescale(i);
      slopes[i] = r.slope;
      intercepts[i] = r.intercept;
    }
    header.frameRescales = { slopes, intercepts };
  }
  return { header, transferSyntax, framing: parsed.framing, pixel: planPixel, ...(ds.byteArray !== bytes ? { dataBytes: ds.byteArray } : {}) };
}

export function sampleFormat(h: Pick<DicomHeader, 'bitsAllocated' | 'bitsStored' | 'highBit' | 'pixelRepresentation' | 'floatBits'>): SampleFormat {
  return { bitsAllocated: h.bitsAllocated, bitsStored: h.bitsStored, highBit: h.highBit, signed: h.pixelRepresentation === 1 && !h.floatBits, floatBits: h.floatBits };
}

export interface FrameRequest {
  name: string;
  transferSyntax: string;
  header: PlainHeader;
  index: number;
  native: boolean;
  /** Native: the frame's bytes (word-aligned chunk of the pixel data); encapsulated: its codestream. */
  bytes: Uint8Array;
  /** Native only: where the frame starts in `bytes`, in samples (in bits for 1-bit data). */
  sampleOffset: number;
  samplesPerFrame: number;
  /** Native big endian: the word size to swap (1: none). */
  swapWord: number;
  /** The values shown as well as the stored ones. */
  display: boolean;
}

export interface FrameResult {
  stored: StoredFrame;
  display?: FrameData;
}

function fromNative(bytes: Uint8Array, sampleOffset: number, count: number, format: SampleFormat, planar: boolean) {
  let samples: Samples;
  if (format.bitsAllocated === 1) samples = unpackBits(bytes, sampleOffset, count);
  else {
    const size = bytesPerSample(format);
    samples = samplesFromBytes(bytes.subarray(sampleOffset * size, (sampleOffset + count) * size), count, format);
  }
  return { samples: maskStored(samples, format, true), planar, colourConverted: false };
}

/** 16- and 32-bit RGB samples to display bytes (keep the top 8 of the stored bits). */
function toBytes(data: StoredFrame['data'], bitsStored: number): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const shift = Math.max(0, bitsStored - 8);
  const out = new Uint8Array(data.length);
  const div = 2 ** shift;
  for (let i = 0; i < data.length; i++) out[i] = Math.max(0, Math.min(255, Math.floor(Number(data[i]) / div)));
  return out;
}

/** One frame to its stored values (and the values shown), inside the worker. */
export async function decodePlannedFrame(req: FrameRequest): Promise<FrameResult> {
  const h = req.header;
  const i = req.index;
  const format = sampleFormat(h);
  const pixelsPerFrame = h.rows * h.columns;
  const ybr422Native = req.native && h.photometric === 'YBR_FULL_422';
  let decoded: { samples: Samples; planar: boolean; colourConverted: boolean };
  try {
    if (req.native) {
      if (req.swapWord > 1) swapWords(req.bytes, req.swapWord);
      decoded = fromNative(req.bytes, req.sampleOffset, req.samplesPerFrame, format, h.planarConfiguration === 1);
    } else {
      const out: CodecOutput = await decodeCompressedFrame(req.transferSyntax, req.bytes, h, h.planarConfiguration, h.photometric);
      if (out.kind === 'native') {
        if (out.bytes.length * (h.bitsAllocated === 1 ? 8 : 1) < req.samplesPerFrame * (h.bitsAllocated === 1 ? 1 : bytesPerSample(format))) {
          throw new Error(`decoded frame holds ${out.bytes.length} bytes, fewer than the header needs`);
        }
        decoded = fromNative(out.bytes, 0, req.samplesPerFrame, format, out.planar);
      } else {
        let container: Samples;
        if (bytesPerSample(format) === out.samples.BYTES_PER_ELEMENT && (out.samples.constructor as unknown) === (allocSamples(format, 0).constructor as unknown)) {
          container = out.samples as Samples; // already the right type: no copy
        } else {
          container = allocSamples(format, out.samples.length);
          if (bytesPerSample(format) === out.samples.BYTES_PER_ELEMENT) {
            new Uint8Array(container.buffer).set(new Uint8Array(out.samples.buffer, out.samples.byteOffset, out.samples.byteLength));
          } else {
            for (let k = 0; k < out.samples.length; k++) container[k] = out.samples[k];
          }
        }
        decoded = { samples: maskStored(container, format, false), planar: out.planar, colourConverted: out.colourConverted };
      }
    }
  } catch (err) {
    throw asImagingError(err, req.name, `cannot decode frame ${i} (${TS_NAMES[req.transferSyntax] ?? req.transferSyntax})`);
  }
  let { samples } = decoded;
  let stored: StoredFrame;
  if (h.samplesPerPixel === 3) {
    if (ybr422Native) samples = ybr422ToYbrFull(samples, h.rows, h.columns);
    else if (decoded.planar) samples = planarToInterleaved(samples, pixelsPerFrame);
    const ybr = h.photometric === 'YBR_FULL' || h.photometric === 'YBR_FULL_422';
    if (ybr && !decoded.colourConverted) ybrFullToRgb(samples, Math.min(h.bitsStored, bytesPerSample(format) * 8));
    stored = { data: samples, shape: [h.rows, h.columns, 3] };
  } else stored = { data: samples, shape: [h.rows, h.columns] };
  if (!req.display) return { stored };
  return { stored, display: displayValues(h, i, stored) };
}

/** The values shown for a stored frame: palette or colour as RGB bytes, grey through the modality LUT/rescale. */
export function displayValues(h: PlainHeader, i: number, s: StoredFrame): FrameData {
  if (h.photometric === 'PALETTE COLOR') {
    return { frame: i, rows: h.rows, columns: h.columns, channels: 3, data: applyPalette(s.data, h.palette!), invert: false, min: 0, max: 255 };
  }
  if (h.samplesPerPixel === 3) {
    return { frame: i, rows: h.rows, columns: h.columns, channels: 3, data: toBytes(s.data, h.bitsStored), invert: false, min: 0, max: 255 };
  }
  const rescale = h.frameRescales ? { slope: h.frameRescales.slopes[i], intercept: h.frameRescales.intercepts[i] } : h.rescale;
  const values = applyModality(s.data, rescale, h.modalityLut);
  const { min, max } = minMax(values);
  return { frame: i, rows: h.rows, columns: h.columns, channels: 1, data: values, invert: h.photometric === 'MONOCHROME1', min, max };
}

