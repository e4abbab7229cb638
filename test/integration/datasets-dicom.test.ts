/**
 * Training and evaluation decode a dataset's DICOM images as the detector sees them at inference
 * (main/detector/decode.ts, the path `studio analyze` and the viewer's Run take). Before, they decoded with
 * sharp only: one DICOM image in a review store aborted the whole run ("Input file contains unsupported
 * image format"), while review and analyze took it. Rasters keep their pixels bit for bit.
 * Needs the reference data (../shared/data: dicom/ and kvasir-seg/); skipped with the reason without it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { Box } from '../../preload/contract.ts';
import { StudioError } from '../../preload/contract.ts';
import { rleDecode } from '../../preload/mask-rle.ts';
import { openStore } from '../../main/review/store.ts';
import { readDicomUids } from '../../main/review/recorder.ts';
import { openDataset, SampleCache, truthMask, type Sample } from '../../main/datasets/index.ts';
import { decodeForDetector } from '../../main/detector/decode.ts';
import { letterbox as detectorLetterbox, letterboxGeometry } from '../../main/detector/preprocess.ts';
import { datasetSample } from '../../main/evaluation/sample.ts';
import { PROJECT_ROOT, referenceData } from '../../main/settings.ts';
import { csvObjects } from '../helpers/csv.ts';

const dicomData = referenceData('dicom');
const kvasirData = referenceData('kvasir-seg');
const hostileData = referenceData('hostile');
const skip = 'skip' in dicomData ? dicomData.skip : 'skip' in kvasirData ? kvasirData.skip : false;
const dicomDir = 'dir' in dicomData ? dicomData.dir : '';
const kvasirDir = 'dir' in kvasirData ? kvasirData.dir : '';

/** A 16-bit signed MONOCHROME2 single-frame CT (512²) that DCMTK and GDCM both read (manifest.csv). */
const CT = 'dicomParser/testImages/CT1_UNC.explicit_little_endian.dcm';
/** Not square (256 columns × 1024 rows): a swapped width and height would show. */
const TALL = 'pydicom-data/data_store/data/JPEG2000_UNC.dcm';
/** 8-bit with a VOI LUT sequence, and 16-bit with a modality LUT sequence. */
const MORE = ['pydicom-data/data_store/data/vlut_04.dcm', 'pydicom-data/data_store/data/mlut_18.dcm'];
/** 10 frames of 64²: training takes the first, as analysis does. */
const MULTI = 'pydicom-data/data_store/data/emri_small.dcm';
const KVASIR = ['cju0qkwl35piu0993l0dewei2', 'cju0qoxqj9q6s0835b43399p4', 'cju0qx73cjw570799j4n5cjze', 'cju0roawvklrq0799vmjorwfv', 'cju0rx1idathl0835detmsp84', 'cju0s2a9ekvms080138tjjpxr', 'cju0s690hkp960855tjuaqvv0'];

const dir = mkdtempSync(join(tmpdir(), 'datasets-dicom-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dcm = (p: string) => join(dicomDir, p);
const jpg = (id: string) => join(kvasirDir, 'images', `${id}.jpg`);
const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A store holding `images`, each reviewed with its one proposed finding accepted (the box as drawn). */
async function reviewedStore(file: string, images: { path: string; box: Box }[]): Promise<void> {
  const store = openStore(file);
  try {
    const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
    for (const { path, box } of images) {
      // The size analysis records: the detector's pixels of the image (frame 0 of a DICOM).
      const { rgb } = await decodeForDetector(path);
      // And the study and series UIDs the recorder reads, which keep a series whole in a split.
      const uids = readDicomUids(path);
      const { findingIds } = store.recordImageFindings(run, { path, contentHash: hash(path), width: rgb.width, height: rgb.height, ...(uids ? { uids } : {}) }, [{ box, score: 0.9, area: (box[2] - box[0]) * (box[3] - box[1]) }]);
      store.decide({ findingId: findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
    }
  } finally {
    store.close();
  }
}

const kvasirBoxes = () => JSON.parse(readFileSync(join(kvasirDir, 'boxes.json'), 'utf8')) as Record<string, { bbox: { xmin: number; ymin: number; xmax: number; ymax: number }[] }>;
const firstBox = (id: string): Box => {
  const b = kvasirBoxes()[id].bbox[0];
  return [b.xmin, b.ymin, b.xmax, b.ymax];
};

const storeFile = join(dir, 'review.sqlite');
const CT_BOX: Box = [200, 180, 300, 260];

before(async () => {
  if (skip) return;
  await reviewedStore(storeFile, [
    { path: dcm(CT), box: CT_BOX },
    { path: jpg(KVASIR[0]), box: firstBox(KVASIR[0]) },
  ]);
});

test('the chosen DICOM files are what the manifest says: MONOCHROME2, single frame (but one), read by DCMTK and GDCM', { skip }, () => {
  const rows = new Map(csvObjects(readFileSync(join(dicomDir, 'manifest.csv'), 'utf8')).map((r) => [r.path, r]));
  for (const p of [CT, TALL, ...MORE]) {
    const r = rows.get(p);
    assert.ok(r, `${p} is in the manifest`);
    assert.equal(r.photometric_interpretation, 'MONOCHROME2', p);
    assert.ok(['', '1'].includes(r.number_of_frames), `${p} has one frame`);
    assert.equal(r.dcmdump_rc, '0', p);
    assert.equal(r.gdcmconv_raw_rc, '0', p);
  }
  assert.equal(rows.get(CT)!.bits_allocated, '16');
  assert.equal(rows.get(MULTI)!.number_of_frames, '10');
});

test('a review store holding a DICOM image and a Kvasir JPEG: both decode for training, the DICOM exactly as the detector sees it', { skip }, async () => {
  const ds = await openDataset(storeFile, 'review');
  assert.deepEqual(ds.samples.map((s) => s.image).sort(), [dcm(CT), jpg(KVASIR[0])].sort());
  const size = 64;
  const cache = new SampleCache(new Map(ds.samples.map((s) => [s.id, s])), size);
  await cache.warm(ds.samples.map((s) => s.id));

  const ct = await cache.get(dcm(CT));
  // The size the review store recorded (columns × rows of frame 0), which its boxes are drawn on.
  assert.deepEqual([ct.box.originalWidth, ct.box.originalHeight], [512, 512]);
  const { rgb } = await decodeForDetector(dcm(CT));
  const { input } = detectorLetterbox(rgb, size);
  const want = Uint8Array.from(input, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  assert.ok(Buffer.from(ct.image).equals(Buffer.from(want)), 'training sees the pixels inference is given');
  const distinct = new Set(ct.image).size;
  assert.ok(distinct > 32, `a windowed CT, not a blank or clipped image (${distinct} grey levels)`);
  // The accepted box is the lesion, placed with the image's scale.
  const s = ct.box.scale;
  const inside = (Math.floor(((CT_BOX[1] + CT_BOX[3]) / 2) * s)) * size + Math.floor(((CT_BOX[0] + CT_BOX[2]) / 2) * s);
  assert.equal(ct.mask[inside], 1);
  assert.equal(ct.mask[0], 0);

  const polyp = await cache.get(jpg(KVASIR[0]));
  assert.ok(polyp.mask.some((v) => v === 1));
});

test('a Kvasir JPEG decodes to the same bytes as before: sharp at full size, then the detector\'s letterbox', { skip }, async () => {
  // The decode training used before DICOM went through the detector's path, kept here as the reference.
  const file = jpg(KVASIR[1]);
  const raw = await sharp(file, { failOn: 'none' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(raw.info.channels, 3);
  for (const size of [64, 256]) {
    const { input } = detectorLetterbox({ width: raw.info.width, height: raw.info.height, data: new Uint8Array(raw.data) }, size);
    const before = Uint8Array.from(input, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    const sample: Sample = { id: 'k', image: file, boxes: [firstBox(KVASIR[1])] };
    const now = await new SampleCache(new Map([['k', sample]]), size).get('k');
    assert.ok(Buffer.from(now.image).equals(Buffer.from(before)), `identical bytes at ${size}²`);
    assert.deepEqual([now.box.originalWidth, now.box.originalHeight], [raw.info.width, raw.info.height]);
  }
});

test('a DICOM sample\'s truth mask has the size its header declares, and Compare\'s sample lookup opens it', { skip }, async () => {
  const tall: Sample = { id: 'tall', image: dcm(TALL), boxes: [[10, 100, 50, 900]] };
  const m = await truthMask(tall);
  assert.deepEqual([m.width, m.height], [256, 1024], 'columns × rows, as analysis records it');
  assert.equal(m.data[500 * 256 + 30], 1);
  assert.equal(m.data[50 * 256 + 30], 0);

  const s = await datasetSample(storeFile, dcm(CT), 'review');
  assert.equal(s.path, dcm(CT));
  const truth = rleDecode(s.truth);
  assert.deepEqual([truth.width, truth.height], [512, 512]);
  assert.equal(truth.data[220 * 512 + 250], 1);
});

test('a multi-frame DICOM trains on its first frame, the one analysis runs on', { skip }, async () => {
  const sample: Sample = { id: 'multi', image: dcm(MULTI), boxes: [[8, 8, 24, 24]] };
  const decoded = await new SampleCache(new Map([['multi', sample]]), 64).get('multi');
  const { rgb } = await decodeForDetector(dcm(MULTI));
  assert.deepEqual([decoded.box.originalWidth, decoded.box.originalHeight], [64, 64]);
  const { input } = detectorLetterbox(rgb, 64);
  assert.ok(Buffer.from(decoded.image).equals(Buffer.from(Uint8Array.from(input, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)))));
  assert.equal(letterboxGeometry(64, 64, 64).scale, 1);
});

test('a hostile file in a dataset fails that sample with a StudioError naming it, quickly and without taking gigabytes', { skip: skip || ('skip' in hostileData ? hostileData.skip : false) }, async () => {
  const hostile = 'dir' in hostileData ? hostileData.dir : '';
  const files = [join(hostile, 'dicom', 'OOM-j2k-SIZ-16000x16000-6KB.dcm'), join(hostile, 'dicom', 'HANG-palette-segmented-lut-108KB.dcm'), join(hostile, 'dicom', 'INTERNAL-nested-sq-20000-stack-overflow.dcm'), join(hostile, 'raster', 'bomb-16000x16000-grey8.png')];
  const cache = new SampleCache(new Map(files.map((f) => [f, { id: f, image: f, boxes: [] } as Sample])), 64);
  const rss = process.memoryUsage().rss;
  const started = Date.now();
  for (const f of files) {
    await assert.rejects(cache.get(f), (err: unknown) => err instanceof StudioError && err.message.includes(f.split('/').pop()!), f);
    await assert.rejects(truthMask({ id: f, image: f }), (err: unknown) => err instanceof StudioError, f);
  }
  assert.ok(Date.now() - started < 30_000, 'refused within seconds');
  assert.ok(process.memoryUsage().rss - rss < 1024 ** 3, 'no gigabytes taken');
});

test('studio train --format review on a store with DICOM images finishes instead of aborting', { skip, timeout: 300_000 }, async () => {
  const file = join(dir, 'train.sqlite');
  const boxes = kvasirBoxes();
  await reviewedStore(file, [
    { path: dcm(CT), box: CT_BOX },
    { path: dcm(TALL), box: [40, 300, 200, 700] },
    ...MORE.map((p) => ({ path: dcm(p), box: [150, 150, 350, 350] as Box })),
    // Enough images for a training part of at least MIN_TRAINING_IMAGES: the run refuses a smaller one.
    ...[...KVASIR, ...Object.keys(boxes).sort().filter((id) => !KVASIR.includes(id)).slice(0, 6)].map((id) => ({ path: jpg(id), box: [boxes[id].bbox[0].xmin, boxes[id].bbox[0].ymin, boxes[id].bbox[0].xmax, boxes[id].bbox[0].ymax] as Box })),
  ]);
  const out = join(dir, 'models', 'site');
  const args = ['train', '--data', file, '--format', 'review', '--variant', 'baseline', '--epochs', '1', '--input-size', '32', '--batch', '4', '--seed', '3', '--no-validate', '--out', out];
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `the run finished (stderr: ${stderr.slice(-2000)})`);
  assert.doesNotMatch(stderr, /unsupported image format/);
  const split = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8')) as Record<string, string[]>;
  const decodedInRun = [...(split.train ?? []), ...(split.val ?? [])];
  assert.ok(decodedInRun.some((id) => id.endsWith('.dcm')), `a DICOM image was trained or validated on (split: ${JSON.stringify(split)})`);
});
