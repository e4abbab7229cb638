/**
 * Binary-safe encoding for the browser host's HTTP bodies and WebSocket messages.
 *
 * Electron IPC uses structured clone, which carries typed arrays as they are. HTTP and WebSocket do not,
 * and base64 inside JSON would cost a third more bytes and a copy on each side for every frame of pixels.
 * So a message is: a 4-byte little-endian JSON length, the JSON (typed arrays replaced by placeholders),
 * padding to 8 bytes, then each array's bytes, each padded to 8 so the decoder can view them in place.
 */

const TYPED = {
  Uint8Array,
  Uint8ClampedArray,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;
type TypedName = keyof typeof TYPED;
type AnyTyped = InstanceType<(typeof TYPED)[TypedName]>;

interface Placeholder {
  $typed: TypedName;
  index: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

function typedName(value: unknown): TypedName | null {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return null;
  const name = value.constructor.name as TypedName;
  // Node's Buffer is a Uint8Array subclass: send it as one.
  if (name in TYPED) return name;
  return value instanceof Uint8Array ? 'Uint8Array' : null;
}

export function encode(value: unknown): Uint8Array {
  const blobs: AnyTyped[] = [];
  const json = JSON.stringify(value, function (this: unknown, _key, v) {
    // JSON.stringify calls toJSON on Buffers before the replacer sees them; look at the holder's raw value.
    const raw = (this as Record<string, unknown>)[_key];
    const name = typedName(raw);
    if (name) {
      blobs.push(raw as AnyTyped);
      const placeholder: Placeholder = { $typed: name, index: blobs.length - 1 };
      return placeholder;
    }
    return v;
  });
  const text = new TextEncoder().encode(json ?? 'null');
  let size = align8(4 + text.byteLength);
  for (const b of blobs) size += 8 + align8(b.byteLength);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, text.byteLength, true);
  out.set(text, 4);
  let offset = align8(4 + text.byteLength);
  for (const b of blobs) {
    view.setFloat64(offset, b.byteLength, true);
    offset += 8;
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), offset);
    offset += align8(b.byteLength);
  }
  return out;
}

export function decode<T = unknown>(input: Uint8Array | ArrayBuffer): T {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength < 4) throw new Error('wire: message too short');
  // Copy into a fresh, 8-aligned buffer so typed views (Float64Array needs 8-byte alignment) are legal.
  const own = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const view = new DataView(own.buffer, own.byteOffset, own.byteLength);
  const jsonLength = view.getUint32(0, true);
  if (4 + jsonLength > own.byteLength) throw new Error('wire: JSON length beyond message');
  const json = new TextDecoder().decode(own.subarray(4, 4 + jsonLength));
  const blobs: { offset: number; length: number }[] = [];
  let offset = align8(4 + jsonLength);
  while (offset < own.byteLength) {
    const length = view.getFloat64(offset, true);
    offset += 8;
    if (!Number.isInteger(length) || length < 0 || offset + length > own.byteLength) throw new Error('wire: bad blob length');
    blobs.push({ offset, length });
    offset += align8(length);
  }
  // encode() writes each typed array once and names each blob once. A message naming one blob many times
  // would have every consumer treat each name as its own data: one 8 MiB DICOM named 100 times in an upload
  // was opened, and kept, 100 times (1.8 GB from an 8 MiB body). So each blob is named exactly once.
  const named = new Uint8Array(blobs.length);
  const value = JSON.parse(json, (_key, v) => {
    if (v && typeof v === 'object' && typeof v.$typed === 'string' && typeof v.index === 'number') {
      const Ctor = TYPED[v.$typed as TypedName];
      const blob = blobs[v.index];
      if (!Ctor || !blob) throw new Error(`wire: bad typed-array placeholder ${v.$typed}#${v.index}`);
      if (named[v.index]++) throw new Error(`wire: blob ${v.index} is named more than once`);
      if (blob.length % Ctor.BYTES_PER_ELEMENT !== 0) throw new Error('wire: blob size not a multiple of its element size');
      return new Ctor(own.buffer as ArrayBuffer, own.byteOffset + blob.offset, blob.length / Ctor.BYTES_PER_ELEMENT);
    }
    return v;
  }) as T;
  if (named.some((n) => n === 0)) throw new Error('wire: a blob is named by nothing in the message');
  return value;
}
