/**
 * DICOM decode throughput (MB/s of decoded stored pixels) over the conformance corpus, next to GDCM's
 * `gdcmconv --raw` on the same files. gdcmconv is timed as a tool (one process per file, writing its
 * output), which is how it would be used; the studio decodes in process. Both figures cover the same
 * files: those both decoders read. A second pair counts only files with at least 1 MB of pixels, where
 * process start-up weighs less.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageFile } from '../main/imaging/index.ts';
import { referenceData } from '../main/settings.ts';

type Report = (figure: string, value: number, unit: string) => void;

function manifestPaths(dir: string): string[] {
  const lines = readFileSync(join(dir, 'manifest.csv'), 'utf8').split('\n').slice(1);
  return lines.filter((l) => l.trim()).map((l) => l.slice(0, l.indexOf(',')));
}

async function decodeAll(file: string): Promise<number> {
  const image = await loadImageFile(file);
  let bytes = 0;
  for (let i = 0; i < image.info.frames; i++) bytes += (await image.stored(i)).data.byteLength;
  return bytes;
}

function gdcmconv(input: string, output: string): Promise<boolean> {
  return new Promise((resolve) => execFile('gdcmconv', ['--raw', input, output], { timeout: 120_000 }, (err) => resolve(!err)));
}

export async function run(report: Report): Promise<void> {
  const data = referenceData('dicom');
  if ('skip' in data) {
    process.stderr.write(`bench decode: ${data.skip}; nothing measured\n`);
    return;
  }
  await lazyOpen(report, join(data.dir, 'pydicom-data/data_store/data/emri_small_jpeg_ls_lossless.dcm'));
  const files = manifestPaths(data.dir).map((p) => join(data.dir, p));

  // Which files decode, and how many bytes each yields (this pass also warms the codecs up).
  const sizes = new Map<string, number>();
  for (const file of files) {
    try {
      sizes.set(file, await decodeAll(file));
    } catch {
      /* broken, non-image or unsupported: not part of the throughput */
    }
  }

  const out = await mkdtemp(join(tmpdir(), 'studio-bench-gdcm-'));
  const gdcmMs = new Map<string, number>();
  try {
    for (const file of sizes.keys()) {
      const started = performance.now();
      const ok = await gdcmconv(file, join(out, 'out.dcm'));
      if (ok) gdcmMs.set(file, performance.now() - started);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }

  const ours = new Map<string, number>();
  for (const file of gdcmMs.keys()) {
    // Best of three: the machine is shared, the minimum is the least disturbed measurement.
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const started = performance.now();
      await decodeAll(file);
      best = Math.min(best, performance.now() - started);
    }
    ours.set(file, best);
  }

  const figure = (subset: string[], suffix: string) => {
    const bytes = subset.reduce((a, f) => a + sizes.get(f)!, 0);
    const mine = subset.reduce((a, f) => a + ours.get(f)!, 0);
    const theirs = subset.reduce((a, f) => a + gdcmMs.get(f)!, 0);
    const mbps = (b: number, ms: number) => b / 1e6 / (ms / 1000);
    report(`files${suffix}`, subset.length, 'files');
    report(`pixels${suffix}`, bytes / 1e6, 'MB');
    report(`studio${suffix}`, mbps(bytes, mine), 'MB/s');
    report(`gdcmconv_raw${suffix}`, mbps(bytes, theirs), 'MB/s');
    report(`ratio_studio_over_gdcmconv${suffix}`, theirs / mine, 'x');
  };
  const both = [...ours.keys()];
  figure(both, '');
  figure(
    both.filter((f) => sizes.get(f)! >= 1e6),
    '_large',
  );
}

// ---------------------------------------------------------------------------------------------------
// Opening a long multi-frame file costs one frame: a 1000-frame JPEG-LS file built from a corpus frame.

function element(group: number, el: number, vr: string, value: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const v = new DataView(head.buffer);
  v.setUint16(0, group, true);
  v.setUint16(2, el, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  v.setUint16(6, value.length, true);
  return concat([head, value]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function item(tag: number, value: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const v = new DataView(head.buffer);
  v.setUint16(0, 0xfffe, true);
  v.setUint16(2, tag, true);
  v.setUint32(4, value.length, true);
  return concat([head, value]);
}

async function lazyOpen(report: Report, source: string): Promise<void> {
  const dicomParser = (await import('dicom-parser')).default;
  const bytes = new Uint8Array(readFileSync(source));
  const ds = dicomParser.parseDicom(bytes);
  const f = ds.elements.x7fe00010.fragments![0];
  const frame = bytes.slice(f.position, f.position + f.length);
  const frames = 1000;
  const text = (s: string) => new TextEncoder().encode(s.length % 2 ? `${s} ` : s);
  const uid = (s: string) => new TextEncoder().encode(s.length % 2 ? `${s}\0` : s);
  const us = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);
  const meta = element(0x0002, 0x0010, 'UI', uid('1.2.840.10008.1.2.4.80'));
  const pixelHead = new Uint8Array(12);
  const pv = new DataView(pixelHead.buffer);
  pv.setUint16(0, 0x7fe0, true);
  pv.setUint16(2, 0x0010, true);
  pixelHead[4] = 0x4f; // OB
  pixelHead[5] = 0x42;
  pv.setUint32(8, 0xffffffff, true);
  const fragments = Array.from({ length: frames }, () => item(0xe000, frame));
  const preamble = new Uint8Array(132);
  preamble.set(new TextEncoder().encode('DICM'), 128);
  const file = concat([
    preamble,
    element(0x0002, 0x0000, 'UL', new Uint8Array(new Uint32Array([meta.length]).buffer)),
    meta,
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0004, 'CS', text('MONOCHROME2')),
    element(0x0028, 0x0008, 'IS', text(String(frames))),
    element(0x0028, 0x0010, 'US', us(ds.uint16('x00280010')!)),
    element(0x0028, 0x0011, 'US', us(ds.uint16('x00280011')!)),
    element(0x0028, 0x0100, 'US', us(16)),
    element(0x0028, 0x0101, 'US', us(ds.uint16('x00280101')!)),
    element(0x0028, 0x0102, 'US', us(ds.uint16('x00280101')! - 1)),
    element(0x0028, 0x0103, 'US', us(0)),
    pixelHead,
    item(0xe000, new Uint8Array(0)),
    ...fragments,
    item(0xe0dd, new Uint8Array(0)),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'studio-bench-frames-'));
  try {
    const path = join(dir, 'long.dcm');
    await writeFile(path, file);
    let open = Infinity;
    for (let k = 0; k < 3; k++) {
      const started = performance.now();
      const image = await loadImageFile(path);
      await image.frame(0);
      open = Math.min(open, performance.now() - started);
    }
    const image = await loadImageFile(path);
    const started = performance.now();
    for (let i = 0; i < frames; i++) await image.stored(i);
    report('open_1000_frame_file', open, 'ms');
    report('decode_all_1000_frames', performance.now() - started, 'ms');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
