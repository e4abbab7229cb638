/**
 * Raw sample bytes to typed arrays: container type from Bits Allocated and Pixel Representation, byte
 * order, 1-bit unpacking, and Bits Stored masking with sign extension.
 */

export type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface SampleFormat {
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  floatBits: 0 | 32 | 64;
}

/** Bytes per sample in memory (1-bit data unpack to one byte per sample). */
export function bytesPerSample(f: Pick<SampleFormat, 'bitsAllocated' | 'floatBits'>): number {
  if (f.floatBits) return f.floatBits / 8;
  return f.bitsAllocated <= 8 ? 1 : f.bitsAllocated <= 16 ? 2 : f.bitsAllocated <= 32 ? 4 : 8;
}

export function allocSamples(f: SampleFormat, length: number): Samples {
  if (f.floatBits === 64) return new Float64Array(length);
  if (f.floatBits === 32) return new Float32Array(length);
  const bytes = bytesPerSample(f);
  if (bytes === 1) return f.signed ? new Int8Array(length) : new Uint8Array(length);
  if (bytes === 2) return f.signed ? new Int16Array(length) : new Uint16Array(length);
  if (bytes === 4) return f.signed ? new Int32Array(length) : new Uint32Array(length);
  throw new Error(`unsupported Bits Allocated ${f.bitsAllocated} for integer pixel data`);
}

/** NumPy dtype string for a sample array (little endian). */
export function dtypeOf(a: Samples): string {
  if (a instanceof Float64Array) return '<f8';
  if (a instanceof Float32Array) return '<f4';
  if (a instanceof Int32Array) return '<i4';
  if (a instanceof Uint32Array) return '<u4';
  if (a instanceof Int16Array) return '<i2';
  if (a instanceof Uint16Array) return '<u2';
  if (a instanceof Int8Array) return '|i1';
  return '|u1';
}

/**
 * Copies `count` little-endian samples from `src` (any alignment) into a new typed array of format `f`.
 * `swap` reverses the bytes of each `swap`-byte word first (big endian datasets; 0 for none).
 */
export function samplesFromBytes(src: Uint8Array, count: number, f: SampleFormat, swap = 0): Samples {
  const out = allocSamples(f, count);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const n = Math.min(bytes.length, src.length);
  bytes.set(src.subarray(0, n));
  if (swap > 1) swapWords(bytes, swap);
  return out;
}

export function swapWords(bytes: Uint8Array, size: number): void {
  const end = bytes.length - (bytes.length % size);
  for (let i = 0; i < end; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** 1-bit pixel data: bits are packed little-bit-first, frames continue mid-byte (PS3.5 8.1.1). */
export function unpackBits(src: Uint8Array, bitOffset: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bit = bitOffset + i;
    out[i] = (src[bit >> 3] >> (bit & 7)) & 1;
  }
  return out;
}

/**
 * Keeps only the Bits Stored bits (shifted down from High Bit when `native`), sign-extending for signed
 * data, in place. Codec output already sits at bit 0, so its shift is 0.
 */
export function maskStored(a: Samples, f: SampleFormat, native: boolean): Samples {
  if (f.floatBits) return a;
  const containerBits = bytesPerSample(f) * 8;
  const stored = Math.min(f.bitsStored, containerBits);
  const shift = native ? Math.max(0, f.highBit + 1 - stored) : 0;
  if (stored >= containerBits && shift === 0) return a;
  const mask = stored >= 32 ? 0xffffffff : 2 ** stored - 1;
  const sign = 2 ** (stored - 1);
  const full = 2 ** stored;
  const unsignedView =
    containerBits === 8 ? new Uint8Array(a.buffer, a.byteOffset, a.length) : containerBits === 16 ? new Uint16Array(a.buffer, a.byteOffset, a.length) : new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < a.length; i++) {
    let v = stored >= 32 ? unsignedView[i] >>> shift : (unsignedView[i] >>> shift) & mask;
    if (f.signed && v >= sign) v -= full;
    a[i] = v;
  }
  return a;
}
