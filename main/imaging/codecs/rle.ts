/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, then one PackBits segment per
 * byte plane, most significant byte first for each sample. No npm package decodes it, so it lives here.
 */

export interface RleLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /** 1, 8, 16, 32 or 64. */
  bitsAllocated: number;
}

/**
 * Decodes one RLE frame to little-endian, sample-interleaved bytes (Planar Configuration 0), or for
 * 1-bit data to packed bits, exactly as native pixel data would hold them.
 */
export function decodeRle(frame: Uint8Array, layout: RleLayout): Uint8Array {
  if (frame.length < 64) throw new Error(`RLE frame is ${frame.length} bytes, shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const pixels = layout.rows * layout.columns;
  const bytesPerSample = layout.bitsAllocated === 1 ? 1 : layout.bitsAllocated / 8;
  const expected = layout.samplesPerPixel * bytesPerSample;
  if (segments < 1 || segments > 15) throw new Error(`RLE header declares ${segments} segments (1 to 15 allowed)`);
  if (segments !== expected) throw new Error(`RLE header declares ${segments} segments; ${expected} expected for ${layout.samplesPerPixel} sample(s) of ${layout.bitsAllocated} bits`);
  const offsets: number[] = [];
  for (let i = 0; i < segments; i++) offsets.push(view.getUint32(4 + i * 4, true));
  offsets.push(frame.length);

  const planeLength = layout.bitsAllocated === 1 ? Math.ceil(pixels / 8) : pixels;
  // PackBits expands at most 64:1 (two bytes, a run of 128): a segment table whose segments are too short
  // for the header's rows x columns is refused before the frame is allocated.
  for (let s = 0; s < segments; s++) {
    const length = (s + 1 < segments && offsets[s + 1] > offsets[s] ? offsets[s + 1] : frame.length) - offsets[s];
    if (offsets[s] < 64 || offsets[s] >= frame.length) throw new Error(`RLE segment ${s} offset ${offsets[s]} lies outside the frame`);
    if (length * 64 < planeLength) throw new Error(`RLE segment ${s} holds ${length} bytes, too few for the ${planeLength} bytes of a ${layout.columns}x${layout.rows} plane`);
  }
  const stride = expected;
  const out = new Uint8Array(planeLength * stride);
  const plane = new Uint8Array(planeLength);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s];
    const end = Math.min(offsets[s + 1] > start ? offsets[s + 1] : frame.length, frame.length);
    if (start < 64 || start >= frame.length) throw new Error(`RLE segment ${s} offset ${start} lies outside the frame`);
    const got = unpackBitsSegment(frame.subarray(start, end), plane);
    if (got < planeLength) throw new Error(`RLE segment ${s} holds ${got} bytes; ${planeLength} expected`);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const base = sample * bytesPerSample + byteInSample;
    if (stride === 1) out.set(plane);
    else for (let p = 0; p < planeLength; p++) out[p * stride + base] = plane[p];
  }
  return out;
}

/** PackBits into `out`; returns how many bytes were written (stops when `out` is full). */
export function unpackBitsSegment(src: Uint8Array, out: Uint8Array): number {
  let i = 0;
  let o = 0;
  while (i < src.length && o < out.length) {
    const n = src[i++];
    if (n < 128) {
      const count = Math.min(n + 1, out.length - o, src.length - i);
      out.set(src.subarray(i, i + count), o);
      i += n + 1;
      o += count;
    } else if (n > 128) {
      if (i >= src.length) break;
      const count = Math.min(257 - n, out.length - o);
      out.fill(src[i++], o, o + count);
      o += count;
    }
  }
  return o;
}
