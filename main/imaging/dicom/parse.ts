/**
 * Reads a DICOM object's dataset with dicom-parser, whatever its framing: Part 10 with preamble, a meta
 * group without preamble, or a bare dataset without any meta information (its byte order and VR style
 * sniffed from the first element). Deflated datasets are inflated here so the parser sees plain bytes.
 */
import { createInflateRaw } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { asImagingError, explainFailure, imagingError, reasonOf } from '../errors.ts';
import { MAX_INFLATED_DATASET_BYTES } from '../guard.ts';
import { TS } from './uids.ts';

export type { DataSet, Element };

export interface ParsedDicom {
  dataSet: DataSet;
  transferSyntax: string;
  /** How the framing was read, for meta.json and error messages. */
  framing: 'part10' | 'no-preamble' | 'raw-dataset';
  /** Big endian dataset: native pixel words need swapping. */
  bigEndian: boolean;
}

const DICM = [0x44, 0x49, 0x43, 0x4d];

function hasPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && DICM.every((b, i) => bytes[128 + i] === b);
}

/** A meta group (0002,xxxx) at offset 0, explicit VR little endian, as some writers leave it. */
function startsWithMetaGroup(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x02 && bytes[1] === 0x00 && isVrText(bytes[4], bytes[5]);
}

function isVrText(a: number, b: number): boolean {
  return a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a;
}

/** The candidate syntaxes for a dataset without meta information, likeliest first. */
function sniffRawSyntaxes(bytes: Uint8Array): string[] {
  if (bytes.length < 8) return [];
  const bigEndianGroup = bytes[0] === 0x00 && bytes[1] !== 0x00;
  const explicit = isVrText(bytes[4], bytes[5]);
  if (bigEndianGroup && explicit) return [TS.explicitBE, TS.explicitLE, TS.implicitLE];
  if (explicit) return [TS.explicitLE, TS.implicitLE, TS.explicitBE];
  return [TS.implicitLE, TS.explicitLE, TS.explicitBE];
}

function looksLikeDataset(ds: DataSet): boolean {
  const tags = Object.keys(ds.elements);
  return tags.length > 0 && tags.some((t) => t.startsWith('x0008') || t.startsWith('x0028') || t.startsWith('x0010') || t.startsWith('x0020'));
}

/**
 * Bounds a deflated dataset's inflation from what its first inflated bytes declare: given the dataset read up
 * to its Pixel Data element header, the most bytes the whole dataset may inflate to (throwing when the
 * declared image is over budget), or undefined when the head does not say.
 */
export type InflationBound = (head: DataSet) => number | undefined;

/** Parses `bytes` (the whole file). Throws a StudioError naming `name` and the reason. */
export async function parseDicomBytes(bytes: Uint8Array, name: string, bound?: InflationBound): Promise<ParsedDicom> {
  if (hasPreamble(bytes)) return parsePart10(bytes, name, 'part10', bound);
  if (startsWithMetaGroup(bytes)) {
    const framed = new Uint8Array(132 + bytes.length);
    framed.set(DICM, 128);
    framed.set(bytes, 132);
    return parsePart10(framed, name, 'no-preamble', bound);
  }
  const candidates = sniffRawSyntaxes(bytes);
  let firstError: unknown;
  for (const transferSyntax of candidates) {
    try {
      const dataSet = dicomParser.parseDicom(bytes, { TransferSyntaxUID: transferSyntax });
      if (looksLikeDataset(dataSet)) return { dataSet, transferSyntax, framing: 'raw-dataset', bigEndian: transferSyntax === TS.explicitBE };
    } catch (err) {
      firstError ??= err;
    }
  }
  throw imagingError('UNSUPPORTED', name, 'not a DICOM file (no DICM prefix, no meta header, and no readable dataset)', firstError === undefined ? undefined : reasonOf(firstError));
}

async function parsePart10(bytes: Uint8Array, name: string, framing: 'part10' | 'no-preamble', bound?: InflationBound): Promise<ParsedDicom> {
  let meta: DataSet & { position?: number };
  try {
    meta = dicomParser.readPart10Header(bytes) as DataSet & { position?: number };
  } catch (err) {
    throw asImagingError(err, name, 'unreadable DICOM meta header');
  }
  const tsElement = meta.elements.x00020010;
  const transferSyntax = tsElement ? (meta.string('x00020010') ?? '').replace(/\0/g, '').trim() : '';
  if (!transferSyntax) throw imagingError('DECODE_FAILED', name, 'the DICOM meta header has no Transfer Syntax UID (0002,0010)');

  if (transferSyntax === TS.deflatedLE) {
    const start = meta.position ?? 132;
    const inflated = await inflateDataset(bytes.subarray(start), name, bound);
    const dataSet = parseOrExplain(() => dicomParser.parseDicom(new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length), { TransferSyntaxUID: TS.explicitLE }), name);
    for (const [tag, el] of Object.entries(meta.elements)) if (!dataSet.elements[tag]) dataSet.elements[tag] = { ...el, tag, length: 0, dataOffset: 0 } as Element;
    return { dataSet, transferSyntax, framing, bigEndian: false };
  }
  const dataSet = parseOrExplain(() => dicomParser.parseDicom(bytes), name);
  return { dataSet, transferSyntax, framing, bigEndian: transferSyntax === TS.explicitBE };
}

/**
 * dicom-parser throws `{exception, dataSet}` when the dataset ends early. When the partial dataset still
 * holds complete pixel data we keep it (trailing garbage is common); otherwise the file is truncated.
 */
function parseOrExplain(parse: () => DataSet, name: string): DataSet {
  try {
    return parse();
  } catch (err) {
    const partial = err && typeof err === 'object' && 'dataSet' in err ? (err as { dataSet?: DataSet }).dataSet : undefined;
    const pixel = partial && (partial.elements.x7fe00010 ?? partial.elements.x7fe00008 ?? partial.elements.x7fe00009);
    if (partial && pixel && pixelElementComplete(partial, pixel)) return partial;
    const raw = reasonOf(err);
    if (/overrun|beyond|greater than|maxPosition|end of|past the end/i.test(raw)) throw imagingError('DECODE_FAILED', name, 'file is truncated or corrupt: the dataset ends before its elements do', raw);
    const { reason, detail } = explainFailure(err);
    throw imagingError('DECODE_FAILED', name, `unreadable DICOM dataset: ${reason}`, detail);
  }
}

function pixelElementComplete(ds: DataSet, el: Element): boolean {
  if (el.encapsulatedPixelData) return !!el.fragments && el.fragments.length > 0;
  return el.dataOffset + el.length <= ds.byteArray.length;
}

/**
 * Inflates a deflated dataset as a stream, bounded: at most MAX_INFLATED_DATASET_BYTES, and as soon as the
 * inflated head reaches the Pixel Data element, at most what `bound` allows for the image the head declares.
 * A 0.5 MB file inflating to a 16000² image is refused after a few MB instead of 512 MB (inflateRawSync with
 * maxOutputLength 2³¹-1 had held the event loop 2.9 s and the memory after).
 */
export function inflateDataset(input: Uint8Array, name: string, bound?: InflationBound): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const inflater = createInflateRaw({ chunkSize: 256 * 1024 });
    let chunks: Buffer[] = [];
    let total = 0;
    let limit = MAX_INFLATED_DATASET_BYTES;
    let why = `the ${MAX_INFLATED_DATASET_BYTES / 1024 ** 3} GiB limit for a deflated dataset`;
    let nextProbe = 64 * 1024;
    let bounded = !bound;
    let done = false;
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      chunks = [];
      inflater.destroy();
      reject(err);
    };
    const probe = () => {
      const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      chunks = [head];
      let ds: DataSet | undefined;
      try {
        ds = dicomParser.parseDicom(new Uint8Array(head.buffer, head.byteOffset, head.length), { TransferSyntaxUID: TS.explicitLE, untilTag: 'x7fe00010' });
      } catch {
        // The head ends before the Pixel Data element (or the dataset is damaged): read on, within the limit.
        return;
      }
      if (!ds || !ds.elements.x7fe00010) return;
      bounded = true;
      const most = bound!(ds);
      if (most !== undefined && most < limit) {
        limit = most;
        why = 'what its header declares';
      }
    };
    inflater.on('data', (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      total += chunk.length;
      if (!bounded && total >= nextProbe) {
        try {
          probe();
        } catch (err) {
          fail(err);
          return;
        }
        nextProbe *= 2;
      }
      if (total > limit) fail(imagingError('TOO_LARGE', name, `the deflated dataset inflates to more than ${limit} bytes, ${why}`));
    });
    inflater.on('error', (err) => fail(asImagingError(err, name, 'deflated dataset does not inflate')));
    inflater.on('end', () => {
      if (done) return;
      done = true;
      const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      chunks = [];
      resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
    });
    inflater.end(input);
  });
}
