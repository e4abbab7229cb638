/**
 * Encapsulated pixel data to one byte string per frame: Basic Offset Table, Extended Offset Table, one
 * fragment per frame, or (empty table, more fragments than frames) frame starts found by their codestream
 * markers, the way pydicom and GDCM recover them.
 */
import type { DataSet, Element } from './parse.ts';

export interface FrameIndex {
  /** Byte ranges of each frame's fragments, relative to the dataset's byte array. */
  frames: { offset: number; length: number }[][];
}

type Fragment = { offset: number; position: number; length: number };

function startsLike(bytes: Uint8Array, at: number, kind: 'jpeg' | 'j2k' | 'rle'): boolean {
  if (kind === 'jpeg') return bytes[at] === 0xff && bytes[at + 1] === 0xd8 && bytes[at + 2] === 0xff;
  if (kind === 'j2k')
    return (bytes[at] === 0xff && bytes[at + 1] === 0x4f && bytes[at + 2] === 0xff && bytes[at + 3] === 0x51) || (bytes[at + 4] === 0x6a && bytes[at + 5] === 0x50 && bytes[at + 6] === 0x20 && bytes[at + 7] === 0x20);
  // RLE: segment count 1..15 then the first offset is 64.
  return bytes[at] >= 1 && bytes[at] <= 15 && bytes[at + 1] === 0 && bytes[at + 2] === 0 && bytes[at + 3] === 0 && bytes[at + 4] === 64 && bytes[at + 5] === 0;
}

/** Which codestream marker starts a frame for this transfer syntax (undefined: no marker to look for). */
export function markerKind(transferSyntax: string): 'jpeg' | 'j2k' | 'rle' | undefined {
  if (/^1\.2\.840\.10008\.1\.2\.4\.(5\d|6\d|70|80|81)$/.test(transferSyntax)) return 'jpeg';
  if (/^1\.2\.840\.10008\.1\.2\.4\.(9\d|20[1-3])$/.test(transferSyntax)) return 'j2k';
  if (transferSyntax === '1.2.840.10008.1.2.5') return 'rle';
  return undefined;
}

export function indexFrames(ds: DataSet, el: Element, frames: number, transferSyntax: string): FrameIndex {
  const fragments = (el.fragments ?? []) as Fragment[];
  if (fragments.length === 0) throw new Error('encapsulated Pixel Data holds no fragments');
  // Fragment.offset is relative to the first fragment's item tag; position is the data's absolute offset.
  const byOffset = new Map<number, number>();
  fragments.forEach((f, i) => byOffset.set(f.offset, i));
  const ranges = (from: number, to: number) => fragments.slice(from, to).map((f) => ({ offset: f.position, length: f.length }));

  const extended = readExtendedOffsets(ds);
  const table = extended ?? (el.basicOffsetTable && el.basicOffsetTable.length ? el.basicOffsetTable : undefined);
  if (table && table.length >= frames) {
    const out: FrameIndex['frames'] = [];
    for (let k = 0; k < frames; k++) {
      const start = byOffset.get(table[k]);
      if (start === undefined) throw new Error(`offset table entry ${k} (${table[k]}) does not point at a fragment`);
      const next = k + 1 < frames ? byOffset.get(table[k + 1]) : fragments.length;
      if (next === undefined || next <= start) throw new Error(`offset table entry ${k + 1} does not point at a later fragment`);
      out.push(ranges(start, next));
    }
    return { frames: out };
  }
  if (frames === 1) return { frames: [ranges(0, fragments.length)] };
  if (fragments.length === frames) return { frames: fragments.map((_, i) => ranges(i, i + 1)) };

  const kind = markerKind(transferSyntax);
  if (kind) {
    const starts = fragments.map((f, i) => (startsLike(ds.byteArray, f.position, kind) ? i : -1)).filter((i) => i >= 0);
    if (starts.length === frames && starts[0] === 0) {
      return { frames: starts.map((s, k) => ranges(s, k + 1 < starts.length ? starts[k + 1] : fragments.length)) };
    }
  }
  if (fragments.length > frames) {
    throw new Error(`${fragments.length} fragments for ${frames} frames and no offset table to tell which belong to which frame`);
  }
  throw new Error(`only ${fragments.length} fragments for ${frames} frames: pixel data are incomplete`);
}

/** Extended Offset Table (7FE0,0001), 64-bit offsets, when present. */
function readExtendedOffsets(ds: DataSet): number[] | undefined {
  const el = ds.elements.x7fe00001;
  if (!el || el.length < 8) return undefined;
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, el.length);
  const out: number[] = [];
  for (let i = 0; i + 8 <= el.length; i += 8) out.push(Number(view.getBigUint64(i, true)));
  return out;
}

/** Concatenates one frame's fragments (a subarray, without copying, when there is just one). */
export function frameBytes(ds: DataSet, parts: { offset: number; length: number }[]): Uint8Array {
  const bytes = ds.byteArray;
  const end = bytes.length;
  if (parts.length === 1) {
    const p = parts[0];
    if (p.offset + p.length > end) throw new Error('pixel data fragment runs past the end of the file (truncated)');
    return new Uint8Array(bytes.buffer, bytes.byteOffset + p.offset, p.length);
  }
  let total = 0;
  for (const p of parts) {
    if (p.offset + p.length > end) throw new Error('pixel data fragment runs past the end of the file (truncated)');
    total += p.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(bytes.subarray(p.offset, p.offset + p.length), o);
    o += p.length;
  }
  return out;
}
