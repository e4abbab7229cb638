/**
 * A DICOM image as a LoadedImage: the header is read at once, frames are decoded on demand (recent ones
 * kept within one memory budget shared by all images), so opening a file with a thousand frames costs one.
 */
import { StudioError } from '../../../preload/contract.ts';
import { isSupportedSyntax, type CodecOutput } from '../codecs/index.ts';
import { decodeFrameGuarded } from '../codecs/guarded.ts';
import { byteSize, frameMemory, newImageKey } from '../cache.ts';
import { asImagingError, imagingError } from '../errors.ts';
import { checkDeclaredSize } from '../guard.ts';
import { planarToInterleaved, ybr422FrameSamples, ybr422ToYbrFull, ybrFullToRgb } from '../pixels/colour.ts';
import { minMax, windowFromData } from '../pixels/display.ts';
import { applyModality, applyPalette } from '../pixels/lut.ts';
import { allocSamples, bytesPerSample, maskStored, samplesFromBytes, unpackBits, type SampleFormat, type Samples } from '../pixels/samples.ts';
import type { FrameData, LoadedImage, StoredFrame } from '../types.ts';
import { frameBytes, indexFrames, type FrameIndex } from './frames.ts';
import { readHeader, type DicomHeader } from './header.ts';
import { parseDicomBytes, type DataSet, type Element } from './parse.ts';
import { NATIVE_SYNTAXES, TS, TS_NAMES, sopClassName } from './uids.ts';

export async function loadDicom(bytes: Uint8Array, displayName: string, path?: string): Promise<LoadedImage> {
  // Errors name the file as the user knows it: its full path when it came from disk.
  const name = path ?? displayName;
  const parsed = parseDicomBytes(bytes, name);
  const { dataSet: ds, transferSyntax } = parsed;
  const h = safeHeader(ds, name);
  const pixel: Element | undefined = ds.elements.x7fe00010 ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (!pixel) {
    const what = sopClassName(h.sopClassUid);
    throw imagingError('UNSUPPORTED', name, `no Pixel Data: this DICOM object (${what ?? `SOP class ${h.sopClassUid ?? 'unknown'}`}) holds no image`);
  }
  if (!isSupportedSyntax(transferSyntax)) throw imagingError('UNSUPPORTED', name, `transfer syntax ${transferSyntax} is not supported`);
  checkDeclaredSize({ rows: h.rows, columns: h.columns, frames: h.frames, samplesPerPixel: h.samplesPerPixel, bitsAllocated: h.bitsAllocated }, name);
  if (h.samplesPerPixel === 4) throw imagingError('UNSUPPORTED', name, `${h.photometric} with 4 samples per pixel is retired and not supported`);
  if (h.photometric === 'PALETTE COLOR' && !h.palette) throw imagingError('DECODE_FAILED', name, 'PALETTE COLOR image without a readable palette (0028,1101-1203)');

  const format: SampleFormat = {
    bitsAllocated: h.bitsAllocated,
    bitsStored: h.bitsStored,
    highBit: h.highBit,
    signed: h.pixelRepresentation === 1 && !h.floatBits,
    floatBits: h.floatBits,
  };
  const pixelsPerFrame = h.rows * h.columns;
  const native = NATIVE_SYNTAXES.has(transferSyntax) || !pixel.encapsulatedPixelData;
  const ybr422Native = native && h.photometric === 'YBR_FULL_422';
  const samplesPerFrame = ybr422Native ? ybr422FrameSamples(h.rows, h.columns) : pixelsPerFrame * h.samplesPerPixel;

  let frameIndex: FrameIndex | undefined;
  let nativeBytes: Uint8Array | undefined;
  if (native) {
    const needBits = h.bitsAllocated === 1 ? samplesPerFrame * h.frames : samplesPerFrame * h.frames * bytesPerSample(format) * 8;
    const available = Math.min(pixel.length, ds.byteArray.length - pixel.dataOffset);
    if (available * 8 < needBits) {
      throw imagingError('DECODE_FAILED', name, `pixel data are truncated: ${available} bytes present, ${Math.ceil(needBits / 8)} needed for ${h.frames} frame(s) of ${h.columns}x${h.rows}`);
    }
    nativeBytes = ds.byteArray.subarray(pixel.dataOffset, pixel.dataOffset + available);
    if (parsed.bigEndian) nativeBytes = bigEndianToLittle(nativeBytes, pixel, h);
  } else {
    // GDCM and DCMTK refuse such files too: a missing delimiter means the file was cut short.
    if (ds.warnings?.some((w) => w.includes('missing sequence delimiter'))) {
      throw imagingError('DECODE_FAILED', name, 'file is truncated: the encapsulated Pixel Data end without their sequence delimiter');
    }
    try {
      frameIndex = indexFrames(ds, pixel, h.frames, transferSyntax);
    } catch (err) {
      throw asImagingError(err, name, 'cannot find the frames in the encapsulated pixel data');
    }
  }

  const decodeSamples = async (i: number): Promise<{ samples: Samples; planar: boolean; colourConverted: boolean }> => {
    if (nativeBytes) return fromNative(nativeBytes, i * samplesPerFrame, samplesPerFrame, format, h.planarConfiguration === 1);
    const encoded = frameBytes(ds, frameIndex!.frames[i]);
    const out: CodecOutput = await decodeFrameGuarded(transferSyntax, encoded, h, h.planarConfiguration, h.photometric);
    if (out.kind === 'native') {
      if (out.bytes.length * (h.bitsAllocated === 1 ? 8 : 1) < samplesPerFrame * (h.bitsAllocated === 1 ? 1 : bytesPerSample(format))) {
        throw new Error(`decoded frame holds ${out.bytes.length} bytes, fewer than the header needs`);
      }
      return fromNative(out.bytes, 0, samplesPerFrame, format, out.planar);
    }
    const container = allocSamples(format, out.samples.length);
    if (bytesPerSample(format) * 8 === out.samples.BYTES_PER_ELEMENT * 8) {
      new Uint8Array(container.buffer).set(new Uint8Array(out.samples.buffer, out.samples.byteOffset, out.samples.byteLength));
    } else {
      for (let k = 0; k < out.samples.length; k++) container[k] = out.samples[k];
    }
    return { samples: maskStored(container, format, false), planar: out.planar, colourConverted: out.colourConverted };
  };

  const toStored = async (i: number): Promise<StoredFrame> => {
    if (!Number.isInteger(i) || i < 0 || i >= h.frames) throw new StudioError('NOT_FOUND', `${name}: frame ${i} does not exist (${h.frames} frame(s))`, name);
    let decoded;
    try {
      decoded = await decodeSamples(i);
    } catch (err) {
      throw asImagingError(err, name, `cannot decode frame ${i} (${TS_NAMES[transferSyntax] ?? transferSyntax})`);
    }
    let { samples } = decoded;
    if (h.samplesPerPixel === 3) {
      if (ybr422Native) samples = ybr422ToYbrFull(samples, h.rows, h.columns);
      else if (decoded.planar) samples = planarToInterleaved(samples, pixelsPerFrame);
      const ybr = h.photometric === 'YBR_FULL' || h.photometric === 'YBR_FULL_422';
      if (ybr && !decoded.colourConverted) ybrFullToRgb(samples, Math.min(h.bitsStored, bytesPerSample(format) * 8));
      return { data: samples, shape: [h.rows, h.columns, 3] };
    }
    return { data: samples, shape: [h.rows, h.columns] };
  };

  const key = newImageKey();
  const stored = (i: number) => frameMemory.get(`${key}/stored/${i}`, () => toStored(i), byteSize);
  const colour = h.samplesPerPixel === 3 || h.photometric === 'PALETTE COLOR';
  const firstVoiLut = h.voiLuts[0];

  const frame = (i: number): Promise<FrameData> =>
    frameMemory.get(`${key}/display/${i}`, async () => {
      const s = await stored(i);
      if (h.photometric === 'PALETTE COLOR') {
        return { frame: i, rows: h.rows, columns: h.columns, channels: 3, data: applyPalette(s.data, h.palette!), invert: false, min: 0, max: 255 };
      }
      if (colour) {
        const data = toBytes(s.data, h.bitsStored);
        return { frame: i, rows: h.rows, columns: h.columns, channels: 3, data, invert: false, min: 0, max: 255 };
      }
      const values = applyModality(s.data, h.frameRescale ? h.frameRescale(i) : h.rescale, h.modalityLut);
      const { min, max } = minMax(values);
      return {
        frame: i,
        rows: h.rows,
        columns: h.columns,
        channels: 1,
        data: values,
        invert: h.photometric === 'MONOCHROME1',
        ...(firstVoiLut ? { voiLut: { firstMapped: firstVoiLut.first, bits: firstVoiLut.bits, data: firstVoiLut.data, explanation: firstVoiLut.explanation } } : {}),
        min,
        max,
      };
    }, byteSize);

  // The summary needs frame 0's value range (and a window when the file has none): decode it now, so a
  // broken first frame fails at open time, naming the file.
  const first = await frame(0);
  const windows = colour ? [] : h.windows.length ? h.windows : [windowFromData(first.data)];
  return {
    info: {
      name: displayName,
      ...(path ? { path } : {}),
      kind: 'dicom',
      rows: h.rows,
      columns: h.columns,
      frames: h.frames,
      channels: colour ? 3 : 1,
      photometric: h.photometric,
      bitsStored: h.bitsStored,
      transferSyntax,
      modality: h.modality,
      study: h.study,
      series: h.series,
      instance: h.instance,
      windows,
      valueRange: { min: first.min, max: first.max },
      ...(colour || h.modalityLut ? {} : { rescale: { slope: h.rescale.slope, intercept: h.rescale.intercept, ...(h.rescale.type ? { type: h.rescale.type } : {}) } }),
    },
    frame,
    stored,
    release: () => frameMemory.release(key),
    meta: () => ({
      file: displayName,
      transferSyntax,
      transferSyntaxName: TS_NAMES[transferSyntax] ?? transferSyntax,
      framing: parsed.framing,
      sopClassUid: h.sopClassUid,
      modality: h.modality,
      photometricInterpretation: h.photometric,
      rows: h.rows,
      columns: h.columns,
      frames: h.frames,
      samplesPerPixel: h.samplesPerPixel,
      planarConfiguration: h.planarConfiguration,
      bitsAllocated: h.bitsAllocated,
      bitsStored: h.bitsStored,
      highBit: h.highBit,
      pixelRepresentation: h.pixelRepresentation,
      floatPixelData: h.floatBits || undefined,
      rescale: h.rescale,
      modalityLut: h.modalityLut ? { first: h.modalityLut.first, bits: h.modalityLut.bits, entries: h.modalityLut.data.length } : undefined,
      window: windows,
      voiLuts: h.voiLuts.map((l) => ({ first: l.first, bits: l.bits, entries: l.data.length, explanation: l.explanation })),
      storedShape: colour && h.photometric !== 'PALETTE COLOR' ? [h.rows, h.columns, 3] : [h.rows, h.columns],
      study: h.study,
      series: h.series,
      instance: h.instance,
    }),
  };
}

function safeHeader(ds: DataSet, name: string): DicomHeader {
  try {
    return readHeader(ds);
  } catch (err) {
    throw asImagingError(err, name, 'unreadable image header');
  }
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

/** Native big-endian pixel data: OW (and wider) words are byte-swapped; OB bytes stay as they are. */
function bigEndianToLittle(bytes: Uint8Array, el: Element, h: DicomHeader): Uint8Array {
  const word = h.floatBits ? h.floatBits / 8 : h.bitsAllocated > 8 ? h.bitsAllocated / 8 : el.vr === 'OB' ? 1 : 2;
  if (word === 1) return bytes;
  const copy = bytes.slice();
  const end = copy.length - (copy.length % word);
  for (let i = 0; i < end; i += word) {
    for (let a = i, b = i + word - 1; a < b; a++, b--) {
      const t = copy[a];
      copy[a] = copy[b];
      copy[b] = t;
    }
  }
  return copy;
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

export { TS };
