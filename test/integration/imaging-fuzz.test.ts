/**
 * Damaged compressed frames must give an error (or a picture), never a crash, an abort or a hang: corpus
 * files of every compressed syntax with seeded byte damage in their pixel data, decoded in a worker with a
 * watchdog. Also checks a codec keeps working after a damaged frame made it fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { Worker } from 'node:worker_threads';
import dicomParser from 'dicom-parser';
import { referenceData } from '../../main/settings.ts';
import type { WorkerReply } from './imaging-corpus-worker.ts';

const data = referenceData('dicom');
const skip = 'skip' in data ? data.skip : false;

const SAMPLES = [
  'pydicom-data/data_store/data/emri_small_RLE.dcm',
  'pydicom-data/data_store/data/emri_small_jpeg_ls_lossless.dcm',
  'pydicom-data/data_store/data/emri_small_jpeg_2k_lossless.dcm',
  'pydicom-data/data_store/data/HTJ2KLossless_08_RGB.dcm',
  'pydicom/src/pydicom/data/test_files/SC_rgb_jpeg_dcmtk.dcm',
  'pydicom/src/pydicom/data/test_files/JPGExtended.dcm',
  'cornerstoneWADOImageLoader/testImages/CTImage.dcm_JPEGProcess14SV1TransferSyntax_1.2.840.10008.1.2.4.70.dcm',
  'pydicom-data/data_store/data/liver_deflate.dcm',
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function startWorker(): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./imaging-corpus-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
}

test('damaged compressed pixel data fail with a clear error, never crash or hang', { skip, timeout: 300_000 }, async (t) => {
  if ('skip' in data) return;
  const dir = await mkdtemp(join(tmpdir(), 'studio-fuzz-'));
  let worker = startWorker();
  let id = 0;
  const decode = (path: string): Promise<WorkerReply | { timeout: true }> =>
    new Promise((resolve) => {
      const my = id++;
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        void worker.terminate();
        worker = startWorker();
        resolve({ timeout: true });
      }, 20_000);
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== my) return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(reply);
      };
      worker.on('message', onMessage);
      worker.postMessage({ id: my, path });
    });
  const outcomes = { decoded: 0, failed: 0 };
  try {
    const random = rng(20261124);
    for (const sample of SAMPLES) {
      const original = new Uint8Array(await readFile(join(data.dir, sample)));
      const pixel = dicomParser.parseDicom(original).elements.x7fe00010;
      const fragments = pixel.fragments ?? [];
      assert.ok(fragments.length > 0, `${sample} should be encapsulated`);
      for (let trial = 0; trial < 6; trial++) {
        const damaged = original.slice();
        const f = fragments[Math.floor(random() * fragments.length)];
        const kind = trial % 3;
        if (kind === 0) {
          // overwrite a run of bytes with noise
          const at = f.position + Math.floor(random() * f.length);
          for (let k = 0; k < 16 && at + k < f.position + f.length; k++) damaged[at + k] = Math.floor(random() * 256);
        } else if (kind === 1) {
          // zero the second half of the fragment (a frame cut short)
          damaged.fill(0, f.position + (f.length >> 1), f.position + f.length);
        } else {
          // damage the codestream header
          for (let k = 2; k < Math.min(24, f.length); k++) damaged[f.position + k] ^= Math.floor(random() * 256);
        }
        const file = join(dir, `damaged-${trial}.dcm`);
        await writeFile(file, damaged);
        const reply = await decode(file);
        assert.ok(!('timeout' in reply), `${sample} trial ${trial}: the decoder hung`);
        const r = reply as WorkerReply;
        if (r.ok) outcomes.decoded++;
        else {
          outcomes.failed++;
          assert.notEqual(r.code, 'THROWN', `${sample} trial ${trial}: a raw exception escaped: ${r.message}`);
          assert.ok(r.message?.includes(file), `${sample} trial ${trial}: the error does not name the file: ${r.message}`);
        }
      }
      // After damage, the codec must still decode the intact file.
      const again = (await decode(join(data.dir, sample))) as WorkerReply;
      assert.ok(again.ok, `${sample}: decoding the intact file after damaged ones failed: ${again.message}`);
    }
  } finally {
    await worker.terminate();
    await rm(dir, { recursive: true, force: true });
  }
  t.diagnostic(`${outcomes.failed} damaged files failed with a clear error, ${outcomes.decoded} still decoded (damage inside entropy-coded data)`);
  assert.ok(outcomes.failed > 0, 'some damage should be detected');
});

/**
 * Issue 25: seeded mutations of corpus files (bit flips, noise, truncation, image fields and codestream
 * headers rewritten to hostile values, repeated chunks), the crafted headers of scripts/fuzz-imaging.ts and
 * every reproducer in hostile/dicom, opened through loadImageBytes in a fresh process and bounded to
 * 45 s. Fails on any error that is not a typed StudioError in words (uncaught), any file past the
 * watchdog's 60 s (hang), or the process's peak RSS over FUZZ_PEAK_MB (node + tsx + the worker ≈ 190 MB;
 * no declared size may make it allocate much beyond; the 1 GiB frame budget is never approached by these
 * files). The same script runs 10,000+ files outside CI: node --import tsx scripts/fuzz-imaging.ts --seed N.
 */
const FUZZ_PEAK_MB = 600;
const FUZZ_SEED = 20261124;

test('seeded fuzzing of DICOM files: no uncaught error, no hang, memory bounded', { skip, timeout: 180_000 }, async (t) => {
  if ('skip' in data) return;
  const script = new URL('../../scripts/fuzz-imaging.ts', import.meta.url).pathname;
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, '--seed', String(FUZZ_SEED), '--count', '100000', '--seconds', '45', '--quiet'], {
    encoding: 'utf8',
    timeout: 150_000,
    cwd: new URL('../../', import.meta.url).pathname,
  });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `the fuzzer gave no summary (status ${child.status}, signal ${child.signal}): ${child.stderr.slice(-2000)}`);
  const s = JSON.parse(line) as { files: number; opened: number; refused: number; hangs: number; uncaught: number; peakRssMb: number; slowestMs: number; slowest: string; failures: string[]; codes: Record<string, number> };
  t.diagnostic(`seed ${FUZZ_SEED}: ${s.files} files (${s.opened} opened, ${s.refused} refused ${JSON.stringify(s.codes)}), ${s.hangs} hangs, ${s.uncaught} uncaught, peak ${s.peakRssMb} MB, slowest ${s.slowestMs} ms (${s.slowest})`);
  assert.deepEqual(s.failures, []);
  assert.equal(s.hangs, 0);
  assert.equal(s.uncaught, 0);
  assert.ok(s.files >= 300, `only ${s.files} files in the time allowed`);
  assert.ok(s.peakRssMb < FUZZ_PEAK_MB, `peak ${s.peakRssMb} MB`);
});
