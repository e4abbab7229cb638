/**
 * Fuzzes the DICOM imaging path: seeded mutations of corpus files (byte flips, noise runs, truncation,
 * header fields rewritten to hostile values, codestream headers rewritten), crafted headers, and every
 * reproducer in ../shared/data/hostile/dicom, each opened through loadImageBytes and its first frame read.
 * Counts what must never happen: an error that is not a typed StudioError or names an internal failure
 * (uncaught), a file that takes longer than the watchdog allows (hang), and the process's peak memory.
 *
 *   node --import tsx scripts/fuzz-imaging.ts --seed 2026 --count 10000 [--seconds 0] [--json]
 *
 * Prints one JSON line at the end: { seed, files, refused, opened, hangs, uncaught, peakRssMb, ... }.
 * The CI test (test/integration/imaging-fuzz.test.ts) runs it bounded in time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';

// ---------------------------------------------------------------------------------------------------
// Crafting DICOM files

export interface Craft {
  ts: string;
  rows: number;
  columns: number;
  bitsAllocated?: number;
  samplesPerPixel?: number;
  photometric?: string;
  frames?: number;
  /** Native pixel data, or one codestream per fragment (encapsulated). */
  native?: Uint8Array;
  fragments?: Uint8Array[];
  /** Deflate the dataset (Deflated Explicit VR Little Endian). */
  deflate?: boolean;
  /** Bytes after the Pixel Data element. */
  extra?: Uint8Array;
  /** With deflate: this many MiB of zeros appended to the dataset before deflating (without holding them). */
  zeros?: number;
}

/**
 * A raw deflate stream of the parts, each part `repeat` times, without ever holding the inflated bytes: each
 * part is compressed on its own and sync-flushed (byte aligned, no final block), so copies concatenate.
 */
export function deflateParts(parts: { bytes: Uint8Array; repeat?: number }[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    const z = new Uint8Array(deflateRawSync(p.bytes, { level: 9, finishFlush: constants.Z_SYNC_FLUSH }));
    for (let k = 0; k < (p.repeat ?? 1); k++) out.push(z);
  }
  out.push(new Uint8Array(deflateRawSync(new Uint8Array(0))));
  return concat(out);
}

/** A native Pixel Data element header declaring `length` bytes (its value follows, e.g. as deflated zeros). */
export function pixelHeader(length: number, vr = 'OW'): Uint8Array {
  const head = new Uint8Array(12);
  const view = new DataView(head.buffer);
  view.setUint16(0, 0x7fe0, true);
  view.setUint16(2, 0x0010, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  view.setUint32(8, length, true);
  return head;
}

function element(group: number, el: number, vr: string, value: Uint8Array, undefinedLength = false): Uint8Array {
  const padded = value.length % 2 ? concat([value, new Uint8Array([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]) : value;
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT', 'OF'].includes(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const view = new DataView(head.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, el, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, undefinedLength ? 0xffffffff : padded.length, true);
  else view.setUint16(6, padded.length, true);
  return concat([head, padded]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);
const us = (v: number) => new Uint8Array(new Uint16Array([v]).buffer);

function item(tagEl: number, value: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint16(0, 0xfffe, true);
  view.setUint16(2, tagEl, true);
  view.setUint32(4, value.length, true);
  return concat([head, value]);
}

/** A Part 10 file with the image elements a loader needs. */
export function craftDicom(c: Craft): Uint8Array {
  const bits = c.bitsAllocated ?? 8;
  const spp = c.samplesPerPixel ?? 1;
  const sop = '1.2.840.10008.5.1.4.1.1.7';
  const ds: Uint8Array[] = [
    element(0x0008, 0x0016, 'UI', text(sop)),
    element(0x0008, 0x0018, 'UI', text('1.2.3.4.5.6.7')),
    element(0x0008, 0x0060, 'CS', text('OT')),
    element(0x0028, 0x0002, 'US', us(spp)),
    element(0x0028, 0x0004, 'CS', text(c.photometric ?? (spp === 3 ? 'RGB' : 'MONOCHROME2'))),
    ...(c.frames ? [element(0x0028, 0x0008, 'IS', text(String(c.frames)))] : []),
    element(0x0028, 0x0010, 'US', us(c.rows)),
    element(0x0028, 0x0011, 'US', us(c.columns)),
    element(0x0028, 0x0100, 'US', us(bits)),
    element(0x0028, 0x0101, 'US', us(bits)),
    element(0x0028, 0x0102, 'US', us(bits - 1)),
    element(0x0028, 0x0103, 'US', us(0)),
  ];
  if (c.fragments) {
    const frags = [item(0xe000, new Uint8Array(0)), ...c.fragments.map((f) => item(0xe000, f.length % 2 ? concat([f, new Uint8Array(1)]) : f))];
    const end = new Uint8Array(8);
    new DataView(end.buffer).setUint16(0, 0xfffe, true);
    new DataView(end.buffer).setUint16(2, 0xe0dd, true);
    ds.push(element(0x7fe0, 0x0010, 'OB', concat([...frags, end]), true).subarray(0, 12), ...frags, end);
  } else if (c.zeros && !c.extra) {
    // the pixel data are the zeros deflateParts appends
    ds.push(pixelHeader(c.zeros * 1024 ** 2, bits > 8 ? 'OW' : 'OB'));
  } else {
    ds.push(element(0x7fe0, 0x0010, bits > 8 ? 'OW' : 'OB', c.native ?? new Uint8Array(0)));
  }
  if (c.extra) ds.push(c.extra);
  let body = concat(ds);
  if (c.deflate) body = deflateParts([{ bytes: body }, ...(c.zeros ? [{ bytes: new Uint8Array(1024 ** 2), repeat: c.zeros }] : [])]);
  const metaElements = concat([
    element(0x0002, 0x0001, 'OB', new Uint8Array([0, 1])),
    element(0x0002, 0x0002, 'UI', text(sop)),
    element(0x0002, 0x0003, 'UI', text('1.2.3.4.5.6.7')),
    element(0x0002, 0x0010, 'UI', text(c.deflate ? '1.2.840.10008.1.2.1.99' : c.ts)),
  ]);
  const groupLength = element(0x0002, 0x0000, 'UL', new Uint8Array(new Uint32Array([metaElements.length]).buffer));
  const preamble = new Uint8Array(132);
  preamble.set(text('DICM'), 128);
  return concat([preamble, groupLength, metaElements, body]);
}

/** An RLE frame of one 8-bit plane of `pixels` zeros: 2 bytes per 128 pixels, the densest PackBits allows. */
export function rleZeros(pixels: number): Uint8Array {
  const runs = Math.ceil(pixels / 128);
  const out = new Uint8Array(64 + runs * 2);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1, true);
  view.setUint32(4, 64, true);
  for (let i = 0; i < runs; i++) out[64 + i * 2] = 0x81; // repeat the next byte 128 times
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Mutations

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const INTERESTING16 = [0, 1, 2, 3, 7, 8, 12, 15, 16, 17, 31, 32, 63, 64, 127, 128, 255, 256, 4096, 16000, 20000, 30000, 32767, 32768, 40000, 65534, 65535];

/** Where the image fields sit in a file (explicit VR LE only), for mutations that aim at them. */
function fieldOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 132; i + 8 < Math.min(bytes.length, 64 * 1024); i += 2) {
    if (bytes[i] === 0x28 && bytes[i + 1] === 0x00 && bytes[i + 3] === 0x00 && [0x02, 0x08, 0x10, 0x11].includes(bytes[i + 2])) out.push(i + 8);
    if (bytes[i] === 0x28 && bytes[i + 1] === 0x00 && bytes[i + 3] === 0x01 && bytes[i + 2] <= 0x03) out.push(i + 8);
    // codestream markers: JPEG SOFn, JPEG-LS SOF55/LSE, J2K SIZ
    if (bytes[i] === 0xff && ((bytes[i + 1] >= 0xc0 && bytes[i + 1] <= 0xcf) || bytes[i + 1] === 0xf7 || bytes[i + 1] === 0xf8 || bytes[i + 1] === 0x51)) out.push(i + 4);
  }
  return out;
}

export function mutate(original: Uint8Array, random: () => number): { bytes: Uint8Array; how: string } {
  const bytes = original.slice();
  const pick = (n: number) => Math.floor(random() * n);
  const kind = pick(7);
  switch (kind) {
    case 0: {
      const n = 1 + pick(8);
      for (let k = 0; k < n; k++) bytes[pick(bytes.length)] ^= 1 << pick(8);
      return { bytes, how: `flip ${n} bits` };
    }
    case 1: {
      const at = pick(bytes.length);
      const n = 1 + pick(64);
      for (let k = 0; k < n && at + k < bytes.length; k++) bytes[at + k] = pick(256);
      return { bytes, how: `noise ${n} bytes at ${at}` };
    }
    case 2: {
      const at = 132 + pick(Math.max(1, bytes.length - 132));
      return { bytes: bytes.subarray(0, at), how: `truncate at ${at}` };
    }
    case 3:
    case 4: {
      const fields = fieldOffsets(bytes);
      if (fields.length === 0) return mutate(original, random);
      const at = fields[pick(fields.length)] + pick(8);
      const v = INTERESTING16[pick(INTERESTING16.length)];
      if (at + 1 < bytes.length) {
        // little endian for DICOM fields, big endian inside codestreams: write both ways at random
        if (random() < 0.5) {
          bytes[at] = v & 0xff;
          bytes[at + 1] = v >> 8;
        } else {
          bytes[at] = v >> 8;
          bytes[at + 1] = v & 0xff;
        }
      }
      return { bytes, how: `field at ${at} = ${v}` };
    }
    case 5: {
      // overwrite bytes with 0x00 / 0xff in the header region
      const at = 132 + pick(Math.min(4096, Math.max(1, bytes.length - 132)));
      const n = 1 + pick(4);
      const v = random() < 0.5 ? 0x00 : 0xff;
      for (let k = 0; k < n && at + k < bytes.length; k++) bytes[at + k] = v;
      return { bytes, how: `${v === 0 ? 'zero' : 'ff'} ${n} at ${at}` };
    }
    default: {
      // repeat a chunk (a duplicated marker segment or element)
      const from = 132 + pick(Math.max(1, bytes.length - 132));
      const n = 4 + pick(64);
      const chunk = bytes.slice(from, from + n);
      const at = 132 + pick(Math.max(1, bytes.length - 132));
      return { bytes: concat([bytes.subarray(0, at), chunk, bytes.subarray(at)]), how: `repeat ${n} bytes from ${from} at ${at}` };
    }
  }
}

/** Crafted headers: each declares something a loader must refuse (or open) within its budgets. */
export function craftedCases(): { name: string; bytes: Uint8Array }[] {
  const jpegSof = (w: number, h: number, p: number) => new Uint8Array([0xff, 0xd8, 0xff, 0xc1, 0, 11, p, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0, 0xff, 0xd9]);
  const siz = (w: number, h: number) => {
    const s = new Uint8Array(4 + 2 + 38 + 3 + 2);
    const v = new DataView(s.buffer);
    v.setUint16(0, 0xff4f);
    v.setUint16(2, 0xff51);
    v.setUint16(4, 41);
    v.setUint32(8, w);
    v.setUint32(12, h);
    v.setUint32(24, w);
    v.setUint32(28, h);
    v.setUint16(40, 1);
    s[42] = 15;
    s[43] = 1;
    s[44] = 1;
    v.setUint16(45, 0xffd9);
    return s;
  };
  const jls = (w: number, h: number, near: number) =>
    new Uint8Array([0xff, 0xd8, 0xff, 0xf7, 0, 11, 8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0, 0xff, 0xda, 0, 8, 1, 1, 0, near, 0, 0, 0, 0, 0xff, 0xd9]);
  return [
    { name: 'crafted-rle-20000x20000-6MB', bytes: craftDicom({ ts: '1.2.840.10008.1.2.5', rows: 20000, columns: 20000, fragments: [rleZeros(20000 * 20000)] }) },
    { name: 'crafted-rle-64x64-segment-too-short', bytes: craftDicom({ ts: '1.2.840.10008.1.2.5', rows: 8000, columns: 8000, fragments: [rleZeros(1000)] }) },
    { name: 'crafted-j2k-SIZ-16000-header-64', bytes: craftDicom({ ts: '1.2.840.10008.1.2.4.90', rows: 64, columns: 64, bitsAllocated: 16, fragments: [siz(16000, 16000)] }) },
    { name: 'crafted-htj2k-SIZ-65535', bytes: craftDicom({ ts: '1.2.840.10008.1.2.4.201', rows: 64, columns: 64, fragments: [siz(65535, 65535)] }) },
    { name: 'crafted-jpeg12-SOF-30000-header-256', bytes: craftDicom({ ts: '1.2.840.10008.1.2.4.51', rows: 256, columns: 256, bitsAllocated: 16, fragments: [jpegSof(30000, 30000, 12)] }) },
    { name: 'crafted-jpeg-lossless-SOF-65535', bytes: craftDicom({ ts: '1.2.840.10008.1.2.4.70', rows: 100, columns: 100, bitsAllocated: 16, fragments: [jpegSof(65535, 65535, 16)] }) },
    { name: 'crafted-jpegls-near-200', bytes: craftDicom({ ts: '1.2.840.10008.1.2.4.81', rows: 64, columns: 64, fragments: [jls(64, 64, 200)] }) },
    { name: 'crafted-jpegls-SOF-60000', bytes: craftDicom({ ts: '1.2.840.10008.1.2.4.80', rows: 64, columns: 64, fragments: [jls(60000, 60000, 0)] }) },
    { name: 'crafted-deflate-frame-40000x40000', bytes: craftDicom({ ts: '1.2.840.10008.1.2.8.1', rows: 40000, columns: 40000, fragments: [new Uint8Array(deflateRawSync(new Uint8Array(1 << 20)))] }) },
    { name: 'crafted-deflate-frame-4000x4000-tiny-stream', bytes: craftDicom({ ts: '1.2.840.10008.1.2.8.1', rows: 4000, columns: 4000, fragments: [new Uint8Array(deflateRawSync(new Uint8Array(1000)))] }) },
    // 16000² 16-bit: 500 MiB of zeros, deflated to ≈ 0.5 MB
    { name: 'crafted-deflated-dataset-16000x16000', bytes: craftDicom({ ts: '1.2.840.10008.1.2.1', rows: 16000, columns: 16000, bitsAllocated: 16, zeros: 500, deflate: true }) },
    // a 64x64 image followed by a private element of 300 MiB of zeros: inflation stops at what the header bounds
    {
      name: 'crafted-deflated-dataset-64x64-300MB-trailing',
      bytes: craftDicom({ ts: '1.2.840.10008.1.2.1', rows: 64, columns: 64, native: new Uint8Array(64 * 64), extra: pixelHeader(300 * 1024 ** 2, 'OB').map((b, i) => (i === 0 ? 0xe1 : i === 1 ? 0x7f : b)), zeros: 300, deflate: true }),
    },
    { name: 'crafted-native-65535x65535-frames-100000', bytes: craftDicom({ ts: '1.2.840.10008.1.2.1', rows: 65535, columns: 65535, frames: 100000, native: new Uint8Array(16) }) },
    { name: 'crafted-native-rows-0', bytes: craftDicom({ ts: '1.2.840.10008.1.2.1', rows: 0, columns: 10, native: new Uint8Array(16) }) },
  ];
}

// ---------------------------------------------------------------------------------------------------
// The run

/** Corpus files the mutations start from: one or two of each transfer syntax the loader reads. */
export const SEEDS = [
  'pydicom-data/data_store/data/emri_small_RLE.dcm',
  'pydicom-data/data_store/data/emri_small_jpeg_ls_lossless.dcm',
  'pydicom-data/data_store/data/emri_small_jpeg_2k_lossless.dcm',
  'pydicom-data/data_store/data/HTJ2KLossless_08_RGB.dcm',
  'pydicom/src/pydicom/data/test_files/SC_rgb_jpeg_dcmtk.dcm',
  'pydicom/src/pydicom/data/test_files/JPGExtended.dcm',
  'pydicom/src/pydicom/data/test_files/JPEGLSNearLossless_16.dcm',
  'pydicom/src/pydicom/data/test_files/SC_rgb_jls_lossy_line.dcm',
  'cornerstoneWADOImageLoader/testImages/CTImage.dcm_JPEGProcess14SV1TransferSyntax_1.2.840.10008.1.2.4.70.dcm',
  'pydicom-data/data_store/data/liver_deflate.dcm',
  'pydicom/src/pydicom/data/test_files/MR_small.dcm',
  'pydicom/src/pydicom/data/test_files/MR_small_bigendian.dcm',
  'pydicom-data/data_store/data/SC_rgb_16bit_2frame.dcm',
  'pydicom-data/data_store/data/OBXXXX1A.dcm',
  'pydicom-data/data_store/data/MR2_J2KI.dcm',
];

export interface FuzzSummary {
  seed: number;
  files: number;
  opened: number;
  refused: number;
  hangs: number;
  uncaught: number;
  peakRssMb: number;
  slowestMs: number;
  slowest: string;
  seconds: number;
  failures: string[];
  codes: Record<string, number>;
}

const INTERNAL = /Cannot read propert|is not a function|Maximum call stack|codec error code|Invalid typed array length|out of bounds|RangeError|TypeError|undefined/;

export async function runFuzz(options: { seed: number; count: number; seconds?: number; dataDir: string; hangMs?: number; log?: (line: string) => void }): Promise<FuzzSummary> {
  const trace = (what: string) => process.env.FUZZ_TRACE && console.error(what);
  trace('importing');
  const { loadImageBytes } = await import('../main/imaging/index.ts');
  const { StudioError } = await import('../preload/contract.ts');
  trace('imported');
  const random = rng(options.seed);
  const hangMs = options.hangMs ?? 65_000;
  const started = performance.now();
  const summary: FuzzSummary = { seed: options.seed, files: 0, opened: 0, refused: 0, hangs: 0, uncaught: 0, peakRssMb: 0, slowestMs: 0, slowest: '', seconds: 0, failures: [], codes: {} };
  const corpus = SEEDS.map((p) => ({ name: p, bytes: new Uint8Array(readFileSync(join(options.dataDir, 'dicom', p))) }));
  const hostileDir = join(options.dataDir, 'hostile', 'dicom');
  let hostile: { name: string; bytes: Uint8Array }[] = [];
  try {
    const { readdirSync } = await import('node:fs');
    hostile = readdirSync(hostileDir)
      .filter((f) => f.endsWith('.dcm'))
      .map((f) => ({ name: `hostile/${f}`, bytes: new Uint8Array(readFileSync(join(hostileDir, f))) }));
  } catch {
    hostile = [];
  }
  // Every fixed case first (hostile reproducers, crafted headers), then seeded mutations.
  trace(`${corpus.length} corpus, ${hostile.length} hostile`);
  const fixed = [...hostile, ...craftedCases()];
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 25);
  const stray: string[] = [];
  const onStray = (err: unknown) => stray.push(String((err as Error)?.stack ?? err));
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);

  const one = async (name: string, bytes: Uint8Array) => {
    if (process.env.FUZZ_TRACE) console.error('>', name);
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), hangMs);
    });
    const attempt = (async () => {
      const img = await loadImageBytes(bytes, `${name}.dcm`);
      await img.frame(0);
      await img.stored(0);
      img.release?.();
      return 'opened' as const;
    })();
    let outcome: 'opened' | 'hang' | unknown;
    try {
      outcome = await Promise.race([attempt, deadline]);
    } catch (err) {
      outcome = err;
    } finally {
      clearTimeout(timer);
    }
    const ms = performance.now() - t0;
    summary.files++;
    if (ms > summary.slowestMs) {
      summary.slowestMs = Math.round(ms);
      summary.slowest = name;
    }
    if (outcome === 'hang') {
      summary.hangs++;
      summary.failures.push(`HANG ${name}`);
      attempt.catch(() => {});
    } else if (outcome === 'opened') summary.opened++;
    else if (outcome instanceof StudioError && outcome.code !== 'INTERNAL' && !INTERNAL.test(outcome.message)) {
      summary.refused++;
      summary.codes[outcome.code] = (summary.codes[outcome.code] ?? 0) + 1;
    } else {
      summary.uncaught++;
      summary.failures.push(`UNCAUGHT ${name}: ${String((outcome as Error)?.stack ?? outcome).slice(0, 500)}`);
    }
  };

  try {
    for (const c of fixed) await one(c.name, c.bytes);
    for (let n = 0; n < options.count; n++) {
      if (options.seconds && performance.now() - started > options.seconds * 1000) break;
      const base = corpus[Math.floor(random() * corpus.length)];
      let { bytes, how } = mutate(base.bytes, random);
      if (random() < 0.25) {
        const again = mutate(bytes, random);
        bytes = again.bytes;
        how += `, ${again.how}`;
      }
      await one(`${base.name.split('/').pop()} #${n} (${how})`, bytes);
      if (options.log && summary.files % 500 === 0) options.log(`${summary.files} files, ${summary.hangs} hangs, ${summary.uncaught} uncaught, peak ${Math.round(peak / 1024 ** 2)} MB`);
    }
  } finally {
    clearInterval(sampler);
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
    const { stopDecoder } = await import('../main/imaging/codecs/guarded.ts');
    await stopDecoder();
  }
  summary.uncaught += stray.length;
  for (const s of stray) summary.failures.push(`STRAY ${s.slice(0, 500)}`);
  summary.peakRssMb = Math.round(Math.max(peak, process.resourceUsage().maxRSS * 1024) / 1024 ** 2);
  summary.seconds = Math.round((performance.now() - started) / 100) / 10;
  return summary;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
  };
  const { loadSettings } = await import('../main/settings.ts');
  const dataDir = loadSettings().dataDir;
  if (!dataDir) throw new Error('reference data absent: set STUDIO_DATA_DIR or place it at ../shared/data');
  const summary = await runFuzz({
    seed: Number(arg('seed', String(Date.now() % 1e9))),
    count: Number(arg('count', '10000')),
    seconds: Number(arg('seconds', '0')),
    dataDir,
    log: process.argv.includes('--quiet') ? undefined : (line) => console.error(line),
  });
  console.log(JSON.stringify(summary));
  process.exit(0);
}
