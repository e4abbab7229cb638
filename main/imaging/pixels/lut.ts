/** Lookup tables: modality LUT (rescale or LUT sequence), palette colour, and segmented LUT expansion. */
import { StudioError } from '../../../preload/contract.ts';

export interface Lut {
  /** Stored value mapped to the first entry (LUT Descriptor value 2). */
  first: number;
  /** Bits per entry (LUT Descriptor value 3). */
  bits: number;
  data: Uint16Array;
  explanation?: string;
}

export interface Palette {
  first: number;
  bits: number;
  red: Uint16Array;
  green: Uint16Array;
  blue: Uint16Array;
}

/** Most words of Segmented Palette Colour LUT Data read: a conforming table of 65536 entries needs far fewer. */
export const MAX_SEGMENTED_LUT_WORDS = 1 << 21;

function lutError(reason: string): StudioError {
  return new StudioError('DECODE_FAILED', `Segmented Palette Color LUT: ${reason}`);
}

/** Appends the linear run from y0 to y1 over `length` entries (PS3.3 C.7.9.2.2), up to the table's end. */
function linearRun(out: Uint16Array, n: number, y0: number, y1: number, length: number): number {
  for (let k = 1; k <= length && n < out.length; k++) out[n++] = Math.round(y0 + ((y1 - y0) * k) / length);
  return n;
}

/**
 * Expands Segmented Palette Colour LUT Data (PS3.3 C.7.9.2): discrete (0), linear (1) and indirect (2)
 * segments. Indirect offsets count 16-bit words from the start of the data, as pydicom and GDCM read them.
 *
 * An indirect segment re-uses segments defined before it (C.7.9.2.3), so the segments are expanded once,
 * in order, and an indirect segment copies the output its segments already produced: the work is linear in
 * the data and the table (at most `entries` ≤ 65536 values are written), however the copies nest. Copying
 * matches re-expanding except for a linear segment at the head of the copied run, which starts from the
 * value before the copy: that head is kept per segment and recomputed. References to a segment not yet
 * defined (forward, or a run that includes the indirect segment itself) or into the middle of a segment
 * are refused, as are data longer than any table needs and data that hold no entry at all.
 */
export function expandSegmentedLut(words: Uint16Array, entries: number): Uint16Array {
  if (!Number.isInteger(entries) || entries < 1 || entries > 65536) throw lutError(`the descriptor declares ${entries} entries (1 to 65536)`);
  if (words.length > MAX_SEGMENTED_LUT_WORDS) throw lutError(`the data hold ${words.length} words; a table of ${entries} entries needs at most ${MAX_SEGMENTED_LUT_WORDS}`);
  const out = new Uint16Array(entries);
  let n = 0;
  // Per segment, in order: its output run [outStart, outEnd) and the length and end of the linear run that
  // opens it (0 when its output does not depend on the value before it).
  const outStart: number[] = [];
  const outEnd: number[] = [];
  const headLength: number[] = [];
  const headEnd: number[] = [];
  // Which segment starts at each word (-1: none), and which segment wrote each entry.
  const segmentAt = new Int32Array(words.length).fill(-1);
  const writer = new Int32Array(entries);
  let i = 0;
  while (i + 1 < words.length && n < entries) {
    const index = outStart.length;
    segmentAt[i] = index;
    const opcode = words[i];
    const length = words[i + 1];
    const start = n;
    let head = 0;
    let headY1 = 0;
    if (opcode === 0) {
      for (let k = 0; k < length && i + 2 + k < words.length && n < entries; k++) out[n++] = words[i + 2 + k];
      i += 2 + length;
    } else if (opcode === 1) {
      if (i + 2 >= words.length) throw lutError(`the data end inside the linear segment at word ${i}`);
      const y1 = words[i + 2];
      n = linearRun(out, n, n ? out[n - 1] : 0, y1, length);
      if (length > 0) [head, headY1] = [length, y1];
      i += 3;
    } else if (opcode === 2) {
      if (i + 3 >= words.length) throw lutError(`the data end inside the indirect segment at word ${i}`);
      const offset = words[i + 2] + words[i + 3] * 65536;
      if (length > 0) {
        if (offset >= i) throw lutError(`the indirect segment at word ${i} refers to word ${offset}, a segment not yet defined (an indirect segment copies earlier segments)`);
        const first = segmentAt[offset];
        if (first < 0) throw lutError(`the indirect segment at word ${i} refers to word ${offset}, which is not the start of a segment`);
        if (first + length > index) throw lutError(`the indirect segment at word ${i} copies ${length} segment(s) from word ${offset}, past the segments defined before it`);
        let from = outStart[first];
        const to = outEnd[first + length - 1];
        if (from < to) {
          // The first segment of the run that wrote anything decides whether the copy opens with a linear run.
          const opener = writer[from];
          if (headLength[opener] > 0) {
            [head, headY1] = [headLength[opener], headEnd[opener]];
            n = linearRun(out, n, out[n - 1], headY1, head);
            from += head;
          }
          const count = Math.min(to - from, entries - n);
          out.copyWithin(n, from, from + count);
          n += count;
        }
      }
      i += 4;
    } else {
      throw lutError(`unknown segment type ${opcode} at word ${i}`);
    }
    writer.fill(index, start, n);
    outStart.push(start);
    outEnd.push(n);
    headLength.push(head);
    headEnd.push(headY1);
  }
  if (n === 0) throw lutError('the segments hold no entries');
  // Tables that end early keep their last value (the descriptor's count is what pixels index).
  out.fill(out[n - 1], n);
  return out;
}

/** Index into a LUT, clamping stored values outside its range to its first or last entry (PS3.3 C.11.1). */
export function lookup(lut: { first: number; data: Uint16Array }, value: number): number {
  let i = value - lut.first;
  if (i < 0) i = 0;
  else if (i >= lut.data.length) i = lut.data.length - 1;
  return lut.data[i | 0];
}

/** Modality values (Float32) from stored values: the LUT sequence when present, otherwise slope/intercept. */
export function applyModality(
  stored: ArrayLike<number>,
  rescale: { slope: number; intercept: number },
  modalityLut?: Lut,
): Float32Array {
  const out = new Float32Array(stored.length);
  if (modalityLut) {
    for (let i = 0; i < stored.length; i++) out[i] = lookup(modalityLut, stored[i]);
  } else if (rescale.slope === 1 && rescale.intercept === 0) {
    for (let i = 0; i < stored.length; i++) out[i] = stored[i];
  } else {
    const { slope, intercept } = rescale;
    for (let i = 0; i < stored.length; i++) out[i] = stored[i] * slope + intercept;
  }
  return out;
}

/** Palette indices to interleaved RGB bytes; 16-bit entries keep their high byte. */
export function applyPalette(indices: ArrayLike<number>, palette: Palette): Uint8Array {
  const out = new Uint8Array(indices.length * 3);
  let max = 0;
  for (const table of [palette.red, palette.green, palette.blue]) for (let i = 0; i < table.length; i++) if (table[i] > max) max = table[i];
  // Descriptors claim 16 bits while holding 8-bit values often enough that the data decide.
  const shift = palette.bits > 8 && max > 255 ? 8 : 0;
  const { red, green, blue, first } = palette;
  const last = red.length - 1;
  for (let i = 0, o = 0; i < indices.length; i++, o += 3) {
    let k = indices[i] - first;
    if (k < 0) k = 0;
    else if (k > last) k = last;
    out[o] = red[k] >> shift;
    out[o + 1] = green[k] >> shift;
    out[o + 2] = blue[k] >> shift;
  }
  return out;
}
