/**
 * Decodes every file of the DICOM conformance corpus (../shared/data/dicom) and compares the stored values
 * with a reference decoder: GDCM's `gdcmconv --raw`, else DCMTK's dcmdjpeg / dcmdjpls / dcmdrle, else
 * DCMTK's `dcmconv +te` for native files, whichever the manifest says works for that file. Lossless
 * syntaxes must match exactly; lossy ones within a PSNR bound (each file's figures are reported). Broken
 * files and non-image objects must fail with a clear error naming the file. Reference decodes are cached
 * in os.tmpdir() by file hash; decoding runs in a worker so a hang can be stopped.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { Worker } from 'node:worker_threads';
import dicomParser from 'dicom-parser';
import { referenceData } from '../../main/settings.ts';
import { LOSSY_SYNTAXES, TS_NAMES } from '../../main/imaging/dicom/uids.ts';
import { planarToInterleaved, ybr422ToYbrFull, ybrFullToRgb } from '../../main/imaging/pixels/colour.ts';
import { decodeWithWasm } from '../../main/imaging/codecs/wasm.ts';
import type { WorkerReply } from './imaging-corpus-worker.ts';
import { csvObjects } from '../helpers/csv.ts';

const data = referenceData('dicom');
const REQUIRED_TOOLS = ['gdcmconv', 'dcmconv', 'dcmdjpeg', 'dcmdjpls', 'dcmdrle'];
const missingTools = REQUIRED_TOOLS.filter((tool) => spawnSync(tool, ['--version']).error);
const skip = 'skip' in data ? data.skip : missingTools.length ? `reference decoders missing (${missingTools.join(', ')}): apt-get install dcmtk libgdcm-tools` : false;

/** Files no npm codec can decode (none at present): they must still fail with a clear UNSUPPORTED error, never crash. */
const KNOWN_GAPS: Record<string, string> = {};

/**
 * Files no reference decoder reads correctly, checked instead against a sibling holding the same image
 * (itself checked against the references). GDCM and DCMTK read 32-bit OW data in big endian as pairs of
 * 16-bit words (0x0ee80013 where the little-endian original holds 0x00130ee8), which turns a smooth dose
 * grid into noise; neither decodes 1-bit RLE nor Deflated Image Frame Compression.
 */
const D = 'pydicom-data/data_store/data/';
const SAME_AS_SIBLING: Record<string, string> = {
  [`${D}liver_rle.dcm`]: `${D}liver.dcm`,
  [`${D}liver_deflate.dcm`]: `${D}liver.dcm`,
  [`${D}liver_nonbyte_aligned_rle.dcm`]: `${D}liver_nonbyte_aligned.dcm`,
  [`${D}liver_nonbyte_aligned_deflate.dcm`]: `${D}liver_nonbyte_aligned.dcm`,
  'pydicom/src/pydicom/data/test_files/rtdose_expb.dcm': 'pydicom/src/pydicom/data/test_files/rtdose.dcm',
  'pydicom/src/pydicom/data/test_files/rtdose_expb_1frame.dcm': 'pydicom/src/pydicom/data/test_files/rtdose_1frame.dcm',
};

/** Lossy reference comparisons must reach this PSNR (peak = 2^BitsStored - 1). */
const MIN_PSNR_DB = 40;

interface Row {
  [key: string]: string;
}

const parseCsv = (text: string): Row[] => csvObjects(text);

function expectsError(row: Row): string | undefined {
  const tags = row.tags.split(/\s+/);
  if (tags.includes('no-pixel-data')) return 'non-image object (no Pixel Data)';
  // Broken on purpose, and no reference decoder copes either ("BROKEN-ish" files decode leniently).
  const referenceDecodes = row.gdcmconv_raw_rc === '0' || row.dcmtk_decode_rc === '0';
  if (/^(BROKEN|MALFORMED)(?!-ish)/.test(row.notes) && !referenceDecodes) return row.notes.split(';')[0];
  if (tags.includes('broken-or-nonconformant') && tags.includes('dicom-parser-fails') && tags.includes('partial-parse')) return 'dataset cannot be parsed';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Reference decoders

const CACHE = join(tmpdir(), 'studio-dicom-reference');

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => (err ? reject(new Error(`${cmd}: ${stderr.toString().split('\n')[0] || err.message}`)) : resolve()));
  });
}

type Reference = { tool: string; file: string; index: number } | { none: string };

/** Every reference decoder the manifest says reads this file, best first; each produced on demand. */
async function referenceFor(row: Row, file: string, which = 0): Promise<Reference> {
  const native = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99', ''].includes(row.transfer_syntax_uid);
  const plans: { tool: string; cmd: string; args: (i: string, o: string) => string[] }[] = [];
  if (row.gdcmconv_raw_rc === '0') plans.push({ tool: 'gdcmconv --raw', cmd: 'gdcmconv', args: (i, o) => ['--raw', i, o] });
  if (row.dcmtk_decoder && row.dcmtk_decode_rc === '0') plans.push({ tool: row.dcmtk_decoder, cmd: row.dcmtk_decoder, args: (i, o) => [i, o] });
  if (native && row.dcmdump_rc === '0') plans.push({ tool: 'dcmconv +te', cmd: 'dcmconv', args: (i, o) => ['+te', i, o] });
  if (!plans.length) return { none: 'no reference decoder reads this file (manifest)' };
  mkdirSync(CACHE, { recursive: true });
  let lastError = '';
  if (which >= plans.length) return { none: 'no further reference decoder' };
  for (const plan of plans.slice(which)) {
    const out = join(CACHE, `${row.sha256}.${plan.cmd}.dcm`);
    if (!existsSync(out)) {
      try {
        await run(plan.cmd, plan.args(file, `${out}.part`));
        renameSync(`${out}.part`, out);
      } catch (err) {
        lastError = (err as Error).message;
        continue;
      }
    }
    return { tool: plan.tool, file: out, index: plans.indexOf(plan) };
  }
  return { none: `reference decoders failed: ${lastError}` };
}

async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

/** The reference file's native pixels, unpacked independently of the decoder under test. */
function referenceFrames(file: string): { frames: ArrayLike<number>[]; photometric: string; bitsStored: number } {
  const bytes = new Uint8Array(readFileSync(file));
  const ds = dicomParser.parseDicom(bytes);
  const ts = ds.string('x00020010')?.trim();
  assert.ok(ts === '1.2.840.10008.1.2.1' || ts === '1.2.840.10008.1.2', `reference output is in ${ts}, not little endian`);
  const u = (tag: string, d = 0) => ds.uint16(tag) ?? d;
  const rows = u('x00280010');
  const cols = u('x00280011');
  const spp = u('x00280002', 1);
  const planar = u('x00280006');
  const bitsAllocated = u('x00280100');
  const isFloat = !!(ds.elements.x7fe00008 || ds.elements.x7fe00009);
  const bitsStored = isFloat ? bitsAllocated : u('x00280101', bitsAllocated);
  const highBit = isFloat ? bitsAllocated - 1 : u('x00280102', bitsStored - 1);
  const signed = u('x00280103') === 1;
  const nFrames = Math.max(1, parseInt(ds.string('x00280008') ?? '1', 10) || 1);
  const photometric = (ds.string('x00280004') ?? 'MONOCHROME2').trim();
  const el = ds.elements.x7fe00010 ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  const raw = bytes.subarray(el.dataOffset, el.dataOffset + el.length);
  const ybr422 = photometric === 'YBR_FULL_422';
  const perFrame = ybr422 ? rows * Math.ceil(cols / 2) * 4 : rows * cols * spp;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const frames: ArrayLike<number>[] = [];
  for (let f = 0; f < nFrames; f++) {
    let values: number[] = new Array(perFrame);
    for (let k = 0; k < perFrame; k++) {
      const s = f * perFrame + k;
      let v: number;
      if (bitsAllocated === 1) v = (raw[s >> 3] >> (s & 7)) & 1;
      else if (isFloat) v = bitsAllocated === 64 ? view.getFloat64(s * 8, true) : view.getFloat32(s * 4, true);
      else if (bitsAllocated === 8) v = raw[s];
      else if (bitsAllocated === 16) v = view.getUint16(s * 2, true);
      else v = view.getUint32(s * 4, true);
      if (!isFloat && bitsAllocated > 1) {
        const shift = highBit + 1 - bitsStored;
        v = bitsStored >= 32 ? v >>> shift : (v >>> shift) & (2 ** bitsStored - 1);
        if (signed && v >= 2 ** (bitsStored - 1)) v -= 2 ** bitsStored;
      }
      values[k] = v;
    }
    if (spp === 3) {
      let arr: Int32Array | Float64Array = Float64Array.from(values);
      if (ybr422) arr = ybr422ToYbrFull(arr, rows, cols) as Float64Array;
      else if (planar === 1) arr = planarToInterleaved(arr, rows * cols);
      if (photometric.startsWith('YBR_FULL')) ybrFullToRgb(arr, Math.min(bitsStored, 8 * Math.ceil(bitsAllocated / 8)));
      values = Array.from(arr);
    }
    frames.push(values);
  }
  return { frames, photometric, bitsStored };
}

// ---------------------------------------------------------------------------------------------------
// Decoding under test, in a worker with a watchdog

class Decoder {
  private worker: Worker | undefined;
  private nextId = 0;
  private start(): Worker {
    // Node 20 does not apply tsx's loader to a worker's .ts entry (not even with execArgv --import tsx):
    // bootstrap from plain JS, register tsx in the worker, then import the TypeScript entry.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./imaging-corpus-worker.ts', import.meta.url).href;
    this.worker ??= new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
    return this.worker;
  }
  decode(path: string, timeoutMs: number): Promise<WorkerReply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        void worker.terminate();
        this.worker = undefined;
        resolve({ id, ok: false, code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms (hang)` });
      }, timeoutMs);
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        resolve(reply);
      };
      worker.on('message', onMessage);
      const onError = (err: Error) => {
        clearTimeout(timer);
        this.worker = undefined;
        resolve({ id, ok: false, code: 'CRASH', message: err.message });
      };
      worker.once('error', onError);
      worker.postMessage({ id, path });
    });
  }
  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

function compare(mine: ArrayLike<number>, ref: ArrayLike<number>, peak: number): { mismatches: number; maxAbs: number; psnr: number } {
  let mismatches = 0;
  let maxAbs = 0;
  let sq = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Number(mine[i]) - Number(ref[i]);
    if (d !== 0) {
      mismatches++;
      const a = Math.abs(d);
      if (a > maxAbs) maxAbs = a;
      sq += d * d;
    }
  }
  const mse = sq / Math.max(1, ref.length);
  return { mismatches, maxAbs, psnr: mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse) };
}


type Verdict = { kind: 'exact' | 'lossy' | 'mismatch' | 'error'; detail: string };

function judge(reply: WorkerReply, ref: { tool: string; file: string }, lossy: boolean): Verdict {
  let reference;
  try {
    reference = referenceFrames(ref.file);
  } catch (err) {
    return { kind: 'error', detail: `reference output unreadable: ${(err as Error).message}` };
  }
  if (reference.frames.length !== reply.frames!.length) return { kind: 'error', detail: `${reply.frames!.length} frames decoded, reference has ${reference.frames.length}` };
  let mismatches = 0;
  let maxAbs = 0;
  let psnr = Infinity;
  for (let f = 0; f < reference.frames.length; f++) {
    const mine = reply.frames![f].data as unknown as ArrayLike<number>;
    if (mine.length !== reference.frames[f].length) return { kind: 'error', detail: `frame ${f}: ${mine.length} values, reference ${reference.frames[f].length}` };
    const bits = Math.min(reference.bitsStored, 32);
    const c = compare(mine, reference.frames[f], 2 ** bits - 1);
    mismatches += c.mismatches;
    maxAbs = Math.max(maxAbs, c.maxAbs);
    psnr = Math.min(psnr, c.psnr);
  }
  const detail = `${mismatches} values differ from ${ref.tool}, max |error| ${maxAbs}, PSNR ${psnr.toFixed(1)} dB`;
  if (mismatches === 0) return { kind: 'exact', detail };
  if (lossy && psnr >= MIN_PSNR_DB) return { kind: 'lossy', detail };
  return { kind: 'mismatch', detail: lossy ? detail : `${detail} in a lossless syntax` };
}

/** Single-frame HTJ2K files against OpenJPEG's decode of the same codestream. */
async function judgeWithOpenJpeg(file: string, reply: WorkerReply, lossy: boolean): Promise<Verdict> {
  const bytes = new Uint8Array(readFileSync(file));
  const pixel = dicomParser.parseDicom(bytes).elements.x7fe00010;
  if (reply.frames!.length !== 1) return { kind: 'error', detail: 'OpenJPEG cross-check handles single-frame files only' };
  const parts = (pixel.fragments ?? []).map((f) => bytes.subarray(f.position, f.position + f.length));
  const stream = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((o, p) => (stream.set(p, o), o + p.length), 0);
  const decoded = await decodeWithWasm('openjpeg', stream);
  const reference = decoded.bitsPerSample > 8 ? new Uint16Array(decoded.bytes.buffer, 0, decoded.bytes.length / 2) : decoded.bytes;
  const c = compare(reply.frames![0].data as unknown as ArrayLike<number>, reference, 2 ** decoded.bitsPerSample - 1);
  const detail = `${c.mismatches} values differ from OpenJPEG, max |error| ${c.maxAbs}, PSNR ${c.psnr.toFixed(1)} dB`;
  if (c.mismatches === 0) return { kind: 'exact', detail };
  if (lossy && c.psnr >= MIN_PSNR_DB) return { kind: 'lossy', detail };
  return { kind: 'mismatch', detail };
}

// ---------------------------------------------------------------------------------------------------

test('DICOM conformance corpus decodes like GDCM/DCMTK, and broken files fail clearly', { skip, timeout: 900_000 }, async (t) => {
  if ('skip' in data) return;
  const root = data.dir;
  const rows = parseCsv(readFileSync(join(root, 'manifest.csv'), 'utf8'));
  assert.ok(rows.length > 300, `manifest lists ${rows.length} files`);

  const refStarted = performance.now();
  const refs = await pool(rows, Math.max(1, Math.min(2, cpus().length)), (row) => referenceFor(row, join(root, row.path)));
  t.diagnostic(`reference decodes ready in ${((performance.now() - refStarted) / 1000).toFixed(1)} s (cached in ${CACHE})`);

  const decoder = new Decoder();
  const hashes = new Map<string, string>();
  const summary = new Map<string, { files: number; exact: number; lossy: number; selfOnly: number; failedAsExpected: number; gaps: number }>();
  const lossyReport: string[] = [];
  const problems: string[] = [];
  const referenceDisagreements: string[] = [];
  try {
    for (const [index, row] of rows.entries()) {
      const ts = row.transfer_syntax_uid || '(no meta)';
      const bucket = summary.get(ts) ?? { files: 0, exact: 0, lossy: 0, selfOnly: 0, failedAsExpected: 0, gaps: 0 };
      summary.set(ts, bucket);
      bucket.files++;
      const file = join(root, row.path);
      const reply = await decoder.decode(file, 30_000);
      const expected = expectsError(row);
      const gap = KNOWN_GAPS[row.path];
      const fail = (why: string) => problems.push(`${row.path}: ${why}`);

      if (reply.code === 'TIMEOUT' || reply.code === 'CRASH' || reply.code === 'THROWN') {
        fail(`decoder ${reply.code}: ${reply.message}`);
        continue;
      }
      if (expected || gap) {
        if (reply.ok) {
          // A file the manifest calls broken may still decode when only a later frame is damaged: not here.
          fail(`should fail (${expected ?? gap}) but decoded`);
          continue;
        }
        if (!reply.message?.includes(file)) fail(`error does not name the file: ${reply.message}`);
        if (gap && reply.code !== 'UNSUPPORTED') fail(`known gap should be UNSUPPORTED, got ${reply.code}: ${reply.message}`);
        if (gap) bucket.gaps++;
        else bucket.failedAsExpected++;
        continue;
      }
      if (!reply.ok) {
        fail(`did not decode: ${reply.code}: ${reply.message}`);
        continue;
      }
      hashes.set(row.path, reply.hash!);
      const sibling = SAME_AS_SIBLING[row.path];
      if (sibling) {
        const other = await decoder.decode(join(root, sibling), 30_000);
        if (other.hash === reply.hash) {
          bucket.exact++;
          referenceDisagreements.push(`${row.path}: no reference decoder reads it right; identical to ${sibling}`);
        } else fail(`differs from ${sibling}, which holds the same image`);
        continue;
      }
      let ref = refs[index];
      if ('none' in ref && /^1\.2\.840\.10008\.1\.2\.4\.20[1-3]$/.test(row.transfer_syntax_uid)) {
        // GDCM 3.0.21 and DCMTK 3.6.7 predate HTJ2K; OpenJPEG (a separate implementation from the OpenJPH
        // the studio uses) decodes it, so it stands in as the reference.
        const verdict = await judgeWithOpenJpeg(file, reply, LOSSY_SYNTAXES.has(row.transfer_syntax_uid));
        if (verdict.kind === 'exact') bucket.exact++;
        else if (verdict.kind === 'lossy') {
          bucket.lossy++;
          lossyReport.push(`${row.path}: ${verdict.detail}`);
        } else fail(verdict.detail);
        continue;
      }
      if ('none' in ref) {
        bucket.selfOnly++;
        continue;
      }
      const lossy = LOSSY_SYNTAXES.has(row.transfer_syntax_uid);
      let verdict = judge(reply, ref, lossy);
      const disagreeing: string[] = [];
      // GDCM 3.0.21 gets some files wrong (16/32-bit RGB RLE, 32-bit big-endian OW): when it disagrees,
      // a second reference decoder decides, and the disagreement is reported.
      while (verdict.kind !== 'exact' && verdict.kind !== 'lossy') {
        disagreeing.push(`${ref.tool}: ${verdict.detail}`);
        const next = await referenceFor(row, file, ref.index + 1);
        if ('none' in next) break;
        ref = next;
        verdict = judge(reply, ref, lossy);
      }
      if (verdict.kind === 'exact' || verdict.kind === 'lossy') {
        if (disagreeing.length) referenceDisagreements.push(`${row.path}: matches ${ref.tool}; ${disagreeing.join('; ')}`);
        if (verdict.kind === 'exact') bucket.exact++;
        else {
          bucket.lossy++;
          lossyReport.push(`${row.path}: ${verdict.detail}`);
        }
      } else fail(disagreeing.join('; '));
    }
  } finally {
    await decoder.close();
  }

  const groups = JSON.parse(readFileSync(join(root, 'lossless-equivalence-groups.json'), 'utf8')).groups as Record<string, string[]>;
  for (const [name, members] of Object.entries(groups)) {
    const decoded = members.filter((m) => hashes.has(m));
    const skipped = members.filter((m) => !hashes.has(m));
    if (skipped.length) t.diagnostic(`group "${name}": not compared (not decoded: ${skipped.map((s) => `${s}${KNOWN_GAPS[s] ? ' [known gap]' : ''}`).join(', ')})`);
    const distinct = new Set(decoded.map((m) => hashes.get(m)));
    if (distinct.size > 1) problems.push(`equivalence group "${name}": ${distinct.size} different decodes among ${decoded.map((m) => `${m}=${hashes.get(m)!.slice(0, 8)}`).join(', ')}`);
  }

  for (const [ts, b] of [...summary.entries()].sort()) {
    t.diagnostic(`${ts} ${TS_NAMES[ts] ?? ''}: ${b.files} files, ${b.exact} identical to reference, ${b.lossy} lossy within ${MIN_PSNR_DB} dB, ${b.selfOnly} decoded without a reference, ${b.failedAsExpected} failed as expected, ${b.gaps} known gaps`);
  }
  for (const line of lossyReport) t.diagnostic(`lossy: ${line}`);
  for (const line of referenceDisagreements) t.diagnostic(`reference disagreement: ${line}`);
  for (const [path, why] of Object.entries(KNOWN_GAPS)) t.diagnostic(`known gap: ${path}: ${why}`);
  assert.deepEqual(problems, [], `${problems.length} corpus problems:\n${problems.join('\n')}`);
});
