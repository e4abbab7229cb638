/**
 * One compressed frame to samples, by transfer syntax. RLE and deflated frames come back as native bytes
 * (the native unpacker then handles them like uncompressed data); the image codecs come back as samples.
 */
import { inflateRawSync } from 'node:zlib';
import { Decoder as LosslessDecoder } from 'jpeg-lossless-decoder-js';
import { StudioError } from '../../../preload/contract.ts';
import { TS, TS_NAMES } from '../dicom/uids.ts';
import { libraryCall } from '../errors.ts';
import { decodeRle } from './rle.ts';
import { decodeWithWasm, type WasmCodec, type WasmDecoded } from './wasm.ts';
import { decodeJpegDct, jpegInfo } from './jpeg.ts';
import { checkDeclared, checkJpegStream, j2kDeclared, jpegLsDeclared } from './headers.ts';

export interface FrameLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

export type CodecOutput =
  /** Bytes laid out exactly as native pixel data of one frame (little endian). */
  | { kind: 'native'; bytes: Uint8Array; planar: boolean }
  /** Decoded samples, one element per sample, interleaved when `planar` is false. */
  | { kind: 'samples'; samples: Uint8Array | Int8Array | Uint16Array | Int16Array; planar: boolean; colourConverted: boolean };

export function isSupportedSyntax(ts: string): boolean {
  return ts in TS_NAMES;
}

export async function decodeCompressedFrame(ts: string, encoded: Uint8Array, layout: FrameLayout, planarConfiguration: 0 | 1, photometric = ''): Promise<CodecOutput> {
  switch (ts) {
    case TS.rle:
      return { kind: 'native', bytes: decodeRle(encoded, layout), planar: false };
    case TS.deflatedImageFrame: {
      // Deflate expands at most 1032:1; fewer bytes than that cannot hold the frame, so do not inflate them.
      if (encoded.length * 1032 < expectedBytes(layout)) throw new Error(`the deflated frame is ${encoded.length} bytes, too few to inflate to the ${expectedBytes(layout)} the header declares`);
      const bytes = libraryCall('zlib', () => inflateRawSync(encoded, { maxOutputLength: expectedBytes(layout) + 16 }));
      return { kind: 'native', bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), planar: planarConfiguration === 1 };
    }
    case TS.jpegLossless:
    case TS.jpegLosslessSV1:
      return decodeLossless(encoded, layout);
    case TS.jpegBaseline:
    case TS.jpegExtended:
    case TS.jpegExtended35:
    case TS.jpegSpectral:
    case TS.jpegFull: {
      for (const d of checkJpegStream(encoded)) checkDeclared('JPEG', d, layout);
      const info = jpegInfo(encoded);
      if (info.lossless) return decodeLossless(encoded, layout);
      if (info.precision <= 8 && info.arithmetic === false) return fromWasm(await decodeWithWasm('libjpeg-turbo', honourRgb(encoded, photometric)), layout, true);
      const decoded = decodeJpegDct(encoded, { width: layout.columns, height: layout.rows });
      checkSize(decoded.width, decoded.height, decoded.components, layout);
      return { kind: 'samples', samples: decoded.samples, planar: false, colourConverted: decoded.colourConverted };
    }
    case TS.jpegLsLossless:
    case TS.jpegLsNear: {
      checkDeclared('JPEG-LS', jpegLsDeclared(encoded), layout);
      const out = await decodeWithWasm('charls', encoded);
      return fromWasm(out, layout, false, out.components > 1 && out.interleaveMode === 0);
    }
    case TS.j2kLossless:
    case TS.j2k: {
      const codestream = j2kCodestream(encoded);
      checkDeclared('JPEG 2000', j2kDeclared(codestream), layout);
      return fromWasm(await decodeWithWasm('openjpeg', codestream), layout, true);
    }
    case TS.htj2kLossless:
    case TS.htj2kRpcl:
    case TS.htj2k: {
      const codestream = j2kCodestream(encoded);
      checkDeclared('HTJ2K', j2kDeclared(codestream), layout);
      return fromWasm(await decodeWithWasm('openjph' as WasmCodec, codestream), layout, true);
    }
    default:
      throw new StudioError('UNSUPPORTED', `transfer syntax ${ts} is not supported`);
  }
}

function expectedBytes(l: FrameLayout): number {
  return l.bitsAllocated === 1 ? Math.ceil((l.rows * l.columns * l.samplesPerPixel) / 8) : (l.rows * l.columns * l.samplesPerPixel * l.bitsAllocated) / 8;
}

function checkSize(width: number, height: number, components: number, l: FrameLayout): void {
  if (!width || !height) throw new Error('the codec decoded no image: the codestream is corrupt');
  if (width !== l.columns || height !== l.rows) throw new Error(`codestream is ${width}x${height} but the header says ${l.columns}x${l.rows}`);
  if (components !== l.samplesPerPixel) throw new Error(`codestream has ${components} components but the header says ${l.samplesPerPixel} samples per pixel`);
}

/** JPEG 2000 in DICOM should be a bare codestream; some writers wrap it in a JP2 file. */
function j2kCodestream(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === 0xff && bytes[1] === 0x4f) return bytes;
  for (let i = 0; i + 4 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0x4f && bytes[i + 2] === 0xff && bytes[i + 3] === 0x51) return bytes.subarray(i);
  }
  return bytes;
}

function fromWasm(out: WasmDecoded, layout: FrameLayout, colourConverted: boolean, planar = false): CodecOutput {
  checkSize(out.width, out.height, out.components, layout);
  const count = out.width * out.height * out.components;
  const wide = out.bitsPerSample > 8;
  const need = count * (wide ? 2 : 1);
  if (out.bytes.length < need) throw new Error(`codec returned ${out.bytes.length} bytes; ${need} expected`);
  // The codec's copy is ours: keep it when it is exactly the samples (no third copy of the frame).
  const buf = out.bytes.byteOffset === 0 && out.bytes.byteLength === need && out.bytes.buffer.byteLength === need ? (out.bytes.buffer as ArrayBuffer) : out.bytes.buffer.slice(out.bytes.byteOffset, out.bytes.byteOffset + need);
  const samples = wide ? (out.signed ? new Int16Array(buf) : new Uint16Array(buf)) : out.signed ? new Int8Array(buf) : new Uint8Array(buf);
  return { kind: 'samples', samples, planar, colourConverted };
}

function decodeLossless(encoded: Uint8Array, layout: FrameLayout): CodecOutput {
  for (const d of checkJpegStream(encoded)) checkDeclared('JPEG', d, layout);
  const info = jpegInfo(encoded);
  const bytes = info.precision > 8 ? 2 : 1;
  const copy = padBeforeEoi(encoded);
  const out = libraryCall('jpeg-lossless-decoder-js', () => new LosslessDecoder().decode(copy.buffer as ArrayBuffer, 0, copy.length, bytes) as Uint8Array | Uint16Array);
  checkSize(info.width, info.height, info.components, layout);
  return { kind: 'samples', samples: out, planar: false, colourConverted: false };
}

/**
 * jpeg-lossless-decoder-js reads ahead and stops at the EOI marker one sample early (the last pixel of a
 * frame came out 0 on corpus files). Two zero bytes before EOI give it the lookahead it wants; decoding
 * stops after the last sample, so the padding is never decoded as data.
 */
function padBeforeEoi(encoded: Uint8Array): Uint8Array {
  let end = encoded.length;
  while (end > 2 && encoded[end - 1] === 0) end--;
  if (encoded[end - 2] !== 0xff || encoded[end - 1] !== 0xd9) return encoded.slice();
  const out = new Uint8Array(end + 2);
  out.set(encoded.subarray(0, end - 2));
  out[end] = 0xff;
  out[end + 1] = 0xd9;
  return out;
}

/**
 * PS3.5 8.2.1: with Photometric Interpretation RGB the JPEG components are not colour-transformed. libjpeg
 * assumes YCbCr for three components unless a JFIF/Adobe marker or component ids 'R','G','B' say
 * otherwise, so without those markers the ids are rewritten to 'R','G','B' (GDCM and DCMTK agree).
 */
export function honourRgb(encoded: Uint8Array, photometric: string): Uint8Array {
  if (photometric !== 'RGB') return encoded;
  let sof = -1;
  const sos: number[] = [];
  let i = 2;
  while (i + 4 <= encoded.length) {
    if (encoded[i] !== 0xff) return encoded;
    const marker = encoded[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = (encoded[i + 2] << 8) | encoded[i + 3];
    if (marker === 0xe0 || marker === 0xee) return encoded; // JFIF or Adobe: libjpeg follows the marker
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) sof = i;
    if (marker === 0xda) {
      sos.push(i);
      break;
    }
    i += 2 + length;
  }
  if (sof < 0 || encoded[sof + 9] !== 3 || sos.length === 0) return encoded;
  const ids = [encoded[sof + 10], encoded[sof + 13], encoded[sof + 16]];
  const rgb = [0x52, 0x47, 0x42];
  if (ids.every((id, k) => id === rgb[k])) return encoded;
  const out = encoded.slice();
  const remap = new Map(ids.map((id, k) => [id, rgb[k]]));
  for (let k = 0; k < 3; k++) out[sof + 10 + k * 3] = rgb[k];
  // Every scan header names its components by id: rewrite them all (progressive streams have many).
  for (let j = sos[0]; j + 4 < out.length; j++) {
    if (out[j] !== 0xff || out[j + 1] !== 0xda) continue;
    const n = out[j + 4];
    for (let k = 0; k < n; k++) {
      const at = j + 5 + k * 2;
      const mapped = remap.get(encoded[at]);
      if (mapped !== undefined) out[at] = mapped;
    }
  }
  return out;
}
