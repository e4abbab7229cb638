/** Lookup tables: modality LUT (rescale or LUT sequence), palette colour, and segmented LUT expansion. */

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

/**
 * Expands Segmented Palette Colour LUT Data (PS3.3 C.7.9.2): discrete (0), linear (1) and indirect (2)
 * segments. Indirect offsets count 16-bit words from the start of the data, as pydicom and GDCM read them.
 */
export function expandSegmentedLut(words: Uint16Array, entries: number): Uint16Array {
  const out: number[] = [];
  const expand = (start: number, maxSegments: number, depth: number): void => {
    if (depth > 4) throw new Error('segmented LUT: indirect segments nest too deep');
    let i = start;
    let segments = 0;
    while (i < words.length && segments < maxSegments && out.length < entries) {
      const opcode = words[i];
      const length = words[i + 1] ?? 0;
      if (opcode === 0) {
        for (let k = 0; k < length && i + 2 + k < words.length; k++) out.push(words[i + 2 + k]);
        i += 2 + length;
      } else if (opcode === 1) {
        const y0 = out.length ? out[out.length - 1] : 0;
        const y1 = words[i + 2] ?? 0;
        for (let k = 1; k <= length; k++) out.push(Math.round(y0 + ((y1 - y0) * k) / length));
        i += 3;
      } else if (opcode === 2) {
        const offset = (words[i + 2] ?? 0) | ((words[i + 3] ?? 0) << 16);
        expand(offset, length, depth + 1);
        i += 4;
      } else {
        throw new Error(`segmented LUT: unknown segment opcode ${opcode}`);
      }
      segments++;
    }
  };
  expand(0, Number.POSITIVE_INFINITY, 0);
  const table = new Uint16Array(entries);
  for (let k = 0; k < entries; k++) table[k] = out[Math.min(k, out.length - 1)] ?? 0;
  return table;
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
