/**
 * A DICOM image as a LoadedImage: the file is parsed, and every frame decoded, in the imaging worker under
 * its watchdog (codecs/guarded.ts, dicom/plan.ts), so hostile bytes never run on this event loop; frames are
 * decoded on demand (recent ones kept within one memory budget shared by all images), so opening a file with
 * a thousand frames costs one.
 */
import { StudioError } from '../../../preload/contract.ts';
import { decodeDicomFrameGuarded, planDicomGuarded } from '../codecs/guarded.ts';
import { byteSize, frameMemory, newImageKey } from '../cache.ts';
import { frameBudgetMs, parseBudgetMs } from '../guard.ts';
import { windowFromData } from '../pixels/display.ts';
import { bytesPerSample } from '../pixels/samples.ts';
import type { FrameData, LoadedImage, StoredFrame } from '../types.ts';
import { frameBytes } from './frames.ts';
import { sampleFormat, type FrameRequest, type FrameResult } from './plan.ts';
import { NATIVE_SYNTAXES, TS, TS_NAMES } from './uids.ts';

/** Which decode budget a transfer syntax's frames get (guard.ts DECODE_BUDGET). */
function codecFamily(ts: string): string {
  if (NATIVE_SYNTAXES.has(ts)) return 'native';
  if (ts === TS.rle) return 'rle';
  if (ts === TS.deflatedImageFrame) return 'deflate';
  if (ts === TS.jpegLsLossless || ts === TS.jpegLsNear) return 'jpegls';
  if (/^1\.2\.840\.10008\.1\.2\.4\.(5\d|6\d|70)$/.test(ts)) return 'jpeg';
  return 'j2k';
}

export async function loadDicom(input: Uint8Array, displayName: string, path?: string): Promise<LoadedImage> {
  // Errors name the file as the user knows it: its full path when it came from disk.
  const name = path ?? displayName;
  const { plan, bytes } = await planDicomGuarded(input, name, parseBudgetMs(input.length));
  const { header: h, transferSyntax, pixel } = plan;
  const format = sampleFormat(h);
  const what = (i: number) => `cannot decode frame ${i} (${TS_NAMES[transferSyntax] ?? transferSyntax})`;
  const budget = frameBudgetMs(pixel.native ? 'native' : codecFamily(transferSyntax), h.rows * h.columns * h.samplesPerPixel);

  /** The bytes the worker needs for frame i: a word-aligned chunk of native pixel data, or the codestream. */
  const frameInput = (i: number): Pick<FrameRequest, 'bytes' | 'sampleOffset'> => {
    if (!pixel.native) return { bytes: frameBytes({ byteArray: bytes } as Parameters<typeof frameBytes>[0], pixel.frames[i]), sampleOffset: 0 };
    const spf = pixel.samplesPerFrame;
    const word = Math.max(1, pixel.swapWord);
    const base = pixel.offset;
    if (h.bitsAllocated === 1) {
      const startBit = i * spf;
      const a = Math.floor((startBit >> 3) / word) * word;
      const b = Math.min(pixel.length, Math.ceil(Math.ceil((startBit + spf) / 8) / word) * word);
      return { bytes: bytes.slice(base + a, base + b), sampleOffset: startBit - a * 8 };
    }
    const size = bytesPerSample(format);
    const start = i * spf * size;
    const a = Math.floor(start / word) * word;
    const b = Math.min(pixel.length, Math.ceil((start + spf * size) / word) * word);
    return { bytes: bytes.slice(base + a, base + b), sampleOffset: (start - a) / size };
  };

  const decode = (i: number, display: boolean): Promise<FrameResult> => {
    if (!Number.isInteger(i) || i < 0 || i >= h.frames) throw new StudioError('NOT_FOUND', `${name}: frame ${i} does not exist (${h.frames} frame(s))`, name);
    const req: FrameRequest = {
      name,
      transferSyntax,
      header: h,
      index: i,
      native: pixel.native,
      samplesPerFrame: pixel.samplesPerFrame,
      swapWord: pixel.native ? pixel.swapWord : 1,
      display,
      ...frameInput(i),
    };
    return decodeDicomFrameGuarded(req, budget, what(i));
  };

  const key = newImageKey();
  const stored = (i: number) => frameMemory.get(`${key}/stored/${i}`, async (): Promise<StoredFrame> => (await decode(i, false)).stored, byteSize);
  const colour = h.samplesPerPixel === 3 || h.photometric === 'PALETTE COLOR';
  const firstVoiLut = h.voiLuts[0];

  const frame = (i: number): Promise<FrameData> =>
    frameMemory.get(`${key}/display/${i}`, async () => {
      const { stored: s, display } = await decode(i, true);
      // The stored values came along: keep them for stored(i) too.
      void frameMemory.get(`${key}/stored/${i}`, async () => s, byteSize);
      const shown = display!;
      if (colour || !firstVoiLut) return shown;
      return { ...shown, voiLut: { firstMapped: firstVoiLut.first, bits: firstVoiLut.bits, data: firstVoiLut.data, explanation: firstVoiLut.explanation } };
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
      framing: plan.framing,
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

export { TS };
