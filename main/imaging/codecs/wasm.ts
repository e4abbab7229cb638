/**
 * The Cornerstone WebAssembly codecs (CharLS, OpenJPEG, OpenJPH, libjpeg-turbo) in plain Node: each
 * package's Emscripten factory (its js next to its wasm) is loaded once, lazily, on first use. A wasm
 * abort leaves its module unusable, so a failed decode drops the instance and the next call starts anew.
 */
import { createRequire } from 'node:module';
import { LibraryFault } from '../errors.ts';

const require = createRequire(import.meta.url);

export type WasmCodec = 'charls' | 'openjpeg' | 'openjph' | 'libjpeg-turbo';

const SPECS: Record<WasmCodec, { module: string; decoder: string }> = {
  charls: { module: '@cornerstonejs/codec-charls/decodewasmjs', decoder: 'JpegLSDecoder' },
  openjpeg: { module: '@cornerstonejs/codec-openjpeg/decodewasmjs', decoder: 'J2KDecoder' },
  openjph: { module: '@cornerstonejs/codec-openjph/wasmjs', decoder: 'HTJ2KDecoder' },
  'libjpeg-turbo': { module: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', decoder: 'JPEGDecoder' },
};

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface Decoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getInterleaveMode?(): number;
  delete(): void;
}

type Module = Record<string, new () => Decoder> & { HEAPU8?: Uint8Array };

/**
 * A wasm memory only grows: an instance that once held a large frame (or failed, perhaps after growing)
 * keeps that memory for the life of the thread. Such an instance is dropped, and the imaging worker that
 * ran it is replaced (takeRecycle), so the memory goes back to the system: a failed 6 KB decode had left
 * 2.5 GB resident in the host.
 */
export const RECYCLE_HEAP_BYTES = Number(process.env.STUDIO_CODEC_RECYCLE_MB || 256) * 1024 ** 2;
let recycle = false;

/** True once since an instance was dropped after a failure or a large decode: the thread should be replaced. */
export function takeRecycle(): boolean {
  const r = recycle;
  recycle = false;
  return r;
}

const instances = new Map<WasmCodec, Promise<Module>>();

function instance(codec: WasmCodec): Promise<Module> {
  let p = instances.get(codec);
  if (!p) {
    const spec = SPECS[codec];
    p = (async () => {
      const factory = require(spec.module) as (opts?: object) => Promise<Module>;
      // Emscripten prints codec complaints itself; the error we throw says it better.
      return factory({ print: () => {}, printErr: () => {} });
    })();
    instances.set(codec, p);
    p.catch(() => instances.delete(codec));
  }
  return p;
}

export interface WasmDecoded {
  /** A copy of the decoded samples (the codec's buffer is reused). */
  bytes: Uint8Array;
  width: number;
  height: number;
  bitsPerSample: number;
  components: number;
  signed: boolean;
  /** CharLS only: 0 means the output is planar (component by component). */
  interleaveMode?: number;
}

/** Decodes one compressed frame; throws an Error with the codec's reason (never aborts the process). */
export async function decodeWithWasm(codec: WasmCodec, encoded: Uint8Array): Promise<WasmDecoded> {
  const mod = await instance(codec);
  const Ctor = mod[SPECS[codec].decoder];
  let decoder: Decoder | undefined;
  try {
    decoder = new Ctor();
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const decoded = decoder.getDecodedBuffer();
    const bytes = new Uint8Array(decoded.length);
    bytes.set(decoded);
    if ((mod.HEAPU8?.buffer.byteLength ?? 0) > RECYCLE_HEAP_BYTES) {
      instances.delete(codec);
      recycle = true;
    }
    return {
      bytes,
      width: info.width,
      height: info.height,
      bitsPerSample: info.bitsPerSample,
      components: info.componentCount,
      signed: !!info.isSigned,
      interleaveMode: codec === 'charls' ? decoder.getInterleaveMode?.() : undefined,
    };
  } catch (err) {
    instances.delete(codec);
    if ((mod.HEAPU8?.buffer.byteLength ?? 0) > RECYCLE_HEAP_BYTES) recycle = true;
    decoder = undefined; // an aborted module cannot free; the instance is gone anyway
    const reason = err instanceof Error ? err.message : typeof err === 'number' ? `codec error code ${err}` : String(err);
    throw new LibraryFault(codec, `could not decode the frame (${reason})`);
  } finally {
    try {
      decoder?.delete();
    } catch {
      /* the module aborted: nothing left to free */
    }
  }
}
