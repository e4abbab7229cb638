import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import dcmjs from 'dcmjs';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { openStore } from '../../main/review/store.ts';
import { exportStore } from '../../main/export/index.ts';
import { CSV_COLUMNS } from '../../main/export/csv.ts';
import { reviewedDataset } from '../../main/datasets/index.ts';
import { rleDecode, rleEncode } from '../../main/review/rle.ts';
import type { CocoDataset } from '../../main/export/coco.ts';
import { parseCsv } from '../helpers/csv.ts';

const M = dcmjs.data.DicomMetaDictionary;
// dcmjs's naturalized datasets are untyped nested records whose shape the SR template decides: a test that
// walks one reads clearest untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Naturalized = any;
const dir = mkdtempSync(join(tmpdir(), 'review-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const storeFile = join(dir, 'review.sqlite');
const hasDsrdump = spawnSync('dsrdump', ['--version']).status === 0;
const hasDciodvfy = spawnSync('dciodvfy', ['-version']).error === undefined;

const W = 48, H = 32;
const source = { study: M.uid(), series: M.uid(), sop: M.uid(), sopClass: '1.2.840.10008.5.1.4.1.1.2' };
const dicomPath = join(dir, 'ct slice.dcm');
const rasterPath = join(dir, 'scope.png');
const NOTE = 'irregular, "spiculated"\nmargin';
let mask: { counts: number[]; size: [number, number] };

/** A tiny CT image written with dcmjs, with the UIDs the SR must reference. */
function writeSourceDicom(): void {
  const pixels = new Uint16Array(W * H).map((_, i) => (i * 37) % 4096);
  const ds = {
    _meta: { TransferSyntaxUID: { Value: ['1.2.840.10008.1.2.1'] } },
    _vrMap: { PixelData: 'OW' },
    SOPClassUID: source.sopClass, SOPInstanceUID: source.sop, StudyInstanceUID: source.study, SeriesInstanceUID: source.series,
    Modality: 'CT', PatientName: 'Test^Patient', PatientID: 'P-0042', PatientBirthDate: '19700101', PatientSex: 'O',
    StudyDate: '20260101', StudyTime: '120000', StudyID: '7', AccessionNumber: 'ACC1', ReferringPhysicianName: '',
    Rows: H, Columns: W, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2', RescaleIntercept: -1024, RescaleSlope: 1, PixelData: [pixels.buffer],
  };
  writeFileSync(dicomPath, dcmjs.data.datasetToBuffer(ds));
}

before(() => {
  writeSourceDicom();
  writeFileSync(rasterPath, Buffer.from('\x89PNG\r\n\x1a\nnot really decoded by the exporter'));
  const store = openStore(storeFile);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const ct = store.recordImageFindings(run, { path: dicomPath, contentHash: 'c'.repeat(64), width: W, height: H, uids: source }, [
    { box: [2, 3, 10, 12], score: 0.91, area: 60 },
    { box: [20, 20, 30, 30], score: 0.55, area: 80 },
    { box: [30, 2, 40, 9], score: 0.42, area: 50 },
  ]);
  const png = store.recordImageFindings(run, { path: rasterPath, contentHash: 'd'.repeat(64), width: W, height: H }, [
    { box: [5, 5, 15, 15], score: 0.8, area: 90 },
    { box: [25, 5, 35, 15], score: 0.3, area: 90 },
  ]);
  store.recordImageFindings(run, { path: join(dir, 'unreviewed.png'), contentHash: 'e'.repeat(64), width: W, height: H }, [{ box: [1, 1, 4, 4], score: 0.7, area: 9 }]);
  const [f1, f2, f3] = ct.findingIds;
  store.decide({ findingId: f1, reviewer: 'dr.a', decision: 'accepted', note: NOTE });
  store.decide({ findingId: f2, reviewer: 'dr.a', decision: 'rejected' });
  store.decide({ findingId: f3, reviewer: 'dr.a', decision: 'edited', box: [29, 1, 41, 10] });
  store.decide({ findingId: f3, reviewer: '=cmd|evil', decision: 'accepted' });
  const m = new Uint8Array(W * H);
  for (let y = 22; y < 28; y++) for (let x = 3; x < 9; x++) m[y * W + x] = 1;
  mask = rleEncode(m, W, H);
  store.add({ imageId: ct.imageId, reviewer: 'dr.a', box: [3, 22, 9, 28], mask, note: 'missed' });
  store.decide({ findingId: png.findingIds[0], reviewer: 'dr.b', decision: 'accepted' });
  store.close();
});

test('COCO export holds the reviewed images and only accepted, edited and added findings, and parses back', () => {
  const out = join(dir, 'coco');
  const result = exportStore(storeFile, 'coco', out, 'test');
  assert.deepEqual(result.files, [join(out, 'annotations.coco.json')]);
  const coco = JSON.parse(readFileSync(result.files[0], 'utf8')) as CocoDataset;

  // The structure pycocotools' COCO() indexes: images/annotations/categories with these keys and types.
  for (const key of ['info', 'images', 'annotations', 'categories'] as const) assert.ok(key in coco, key);
  assert.deepEqual(coco.categories, [{ id: 1, name: 'lesion', supercategory: 'lesion' }]);
  assert.equal(coco.images.length, 2, 'the two reviewed images; the unreviewed one is left out');
  assert.equal(new Set(coco.images.map((i) => i.id)).size, coco.images.length, 'image ids are unique');
  for (const img of coco.images) {
    assert.ok(Number.isInteger(img.id) && typeof img.file_name === 'string' && img.width === W && img.height === H);
  }
  const imageIds = new Set(coco.images.map((i) => i.id));
  assert.equal(new Set(coco.annotations.map((a) => a.id)).size, coco.annotations.length, 'annotation ids are unique');
  for (const a of coco.annotations) {
    assert.ok(imageIds.has(a.image_id), 'each annotation points at an image in the file');
    assert.equal(a.category_id, 1);
    assert.equal(a.iscrowd, 0);
    assert.equal(a.bbox.length, 4);
    assert.ok(a.bbox[2] > 0 && a.bbox[3] > 0);
    assert.ok(a.area > 0);
  }
  const byDecision = (d: string) => coco.annotations.filter((a) => a.attributes.decision === d);
  assert.equal(coco.annotations.length, 4, 'accepted (2) + edited-then-accepted (1) + added (1); the rejected one is out');
  assert.equal(byDecision('rejected').length, 0);
  const ct = coco.images.find((i) => i.path === dicomPath)!;
  assert.deepEqual(ct.dicom, { study: source.study, series: source.series, sop: source.sop });
  const first = coco.annotations.find((a) => a.image_id === ct.id && a.score === 0.91)!;
  assert.deepEqual(first.bbox, [2, 3, 8, 9], 'bbox is [x, y, width, height]');
  assert.deepEqual(first.segmentation, [[2, 3, 10, 3, 10, 12, 2, 12]], 'a box-only finding is its box polygon');
  assert.equal(first.attributes.note, NOTE);
  const edited = coco.annotations.find((a) => a.score === 0.42)!;
  assert.deepEqual(edited.bbox, [30, 2, 10, 7], 'the latest decision (accept by the second reviewer) takes the proposed box');
  assert.deepEqual(edited.attributes.decisions, [{ reviewer: 'dr.a', decision: 'edited' }, { reviewer: '=cmd|evil', decision: 'accepted' }]);
  const added = byDecision('added')[0];
  assert.deepEqual(added.bbox, [3, 22, 6, 6]);
  const seg = added.segmentation as { counts: number[]; size: [number, number] };
  assert.deepEqual(seg.size, [H, W], 'RLE size is [height, width]');
  assert.equal(seg.counts.reduce((a, b) => a + b, 0), W * H);
  assert.equal(added.area, 36);
  const decoded = rleDecode(seg);
  assert.equal(decoded.data[25 * W + 5], 1);
  assert.equal(decoded.data[5 * W + 25], 0, 'column-major RLE decodes to the painted region, not its transpose');
});


test('CSV export has one row per finding with its decision, quoted so notes with commas, quotes and newlines survive', () => {
  const out = join(dir, 'csv');
  const result = exportStore(storeFile, 'csv', out);
  const rows = parseCsv(readFileSync(result.files[0], 'utf8'));
  assert.deepEqual(rows[0], [...CSV_COLUMNS]);
  // Readers index these columns by position: a new column goes at the end, never between.
  assert.deepEqual([...CSV_COLUMNS], [
    'image_id', 'image_path', 'finding_id', 'source', 'model', 'run_id', 'score', 'area',
    'x0', 'y0', 'x1', 'y1', 'proposed_x0', 'proposed_y0', 'proposed_x1', 'proposed_y1', 'has_mask',
    'decision', 'reviewer', 'decided_at', 'note', 'all_decisions', 'image_flagged', 'image_note',
    'mismatch', 'image_decisions',
  ]);
  const body = rows.slice(1);
  assert.equal(body.length, 7, 'every live finding, pending ones included (3 + 1 added, 2, 1)');
  for (const r of body) assert.equal(r.length, CSV_COLUMNS.length);
  const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
  const accepted = body.find((r) => r[col('score')] === '0.91')!;
  assert.equal(accepted[col('decision')], 'accepted');
  assert.equal(accepted[col('reviewer')], 'dr.a');
  assert.equal(accepted[col('note')], NOTE);
  assert.deepEqual([accepted[col('x0')], accepted[col('y0')], accepted[col('x1')], accepted[col('y1')]], ['2', '3', '10', '12']);
  assert.equal(body.find((r) => r[col('score')] === '0.55')![col('decision')], 'rejected');
  assert.equal(body.find((r) => r[col('score')] === '0.3')![col('decision')], 'pending');
  const formula = body.find((r) => r[col('score')] === '0.42')!;
  assert.equal(formula[col('reviewer')], "'=cmd|evil", 'a cell a spreadsheet would run as a formula is defused');
  assert.equal(body.find((r) => r[col('decision')] === 'added')![col('has_mask')], '1');
  assert.ok(body.every((r) => r[col('mismatch')] === ''), 'no run here was made on an image its model is not for');
  assert.equal(result.mismatched, 0);
});

test('DICOM SR export: one TID 1500 report per DICOM source that dsrdump reads, referencing the source UIDs', { skip: !hasDsrdump && 'dsrdump (DCMTK) is not installed' }, (t) => {
  const out = join(dir, 'sr');
  const result = exportStore(storeFile, 'dicom-sr', out, 'test');
  assert.equal(result.files.length, 1, 'only the DICOM image gets a report');
  assert.deepEqual(result.skipped.map((s) => s.path), [rasterPath]);
  assert.equal(result.findings, 3);

  const dump = spawnSync('dsrdump', ['+Pt', result.files[0]], { encoding: 'utf8' });
  assert.equal(dump.status, 0, dump.stderr);
  assert.doesNotMatch(dump.stdout + dump.stderr, /Error/i);
  assert.match(dump.stdout, /Comprehensive SR Document/);
  assert.match(dump.stdout, /TID 1500/);
  assert.match(dump.stdout, /Imaging Measurement Report/);
  assert.equal((dump.stdout.match(/Measurement Group/g) ?? []).length, 3);
  assert.match(dump.stdout, /SCOORD:\(,,"Image Region"\)=\(POLYLINE/);

  const bytes = readFileSync(result.files[0]);
  const sr = M.naturalizeDataset(dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).dict) as Naturalized;
  assert.equal(sr.SOPClassUID, '1.2.840.10008.5.1.4.1.1.88.33');
  assert.equal(sr.Modality, 'SR');
  assert.equal(sr.StudyInstanceUID, source.study, 'filed into the source study');
  assert.notEqual(sr.SeriesInstanceUID, source.series);
  assert.equal(sr.PatientID, 'P-0042', 'patient copied from the source file');
  const evidence = sr.CurrentRequestedProcedureEvidenceSequence[0];
  assert.equal(evidence.ReferencedSeriesSequence[0].SeriesInstanceUID, source.series);
  assert.equal(evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID, source.sop);
  assert.equal(sr.ContentTemplateSequence[0].TemplateIdentifier, '1500');
  const measurements = sr.ContentSequence.find((i: Naturalized) => i.ConceptNameCodeSequence[0].CodeValue === '126010');
  const groups = measurements.ContentSequence;
  assert.equal(groups.length, 3);
  const polylines = groups.map((g: Naturalized) => {
    const scoord = g.ContentSequence.find((i: Naturalized) => i.ValueType === 'SCOORD');
    const ref = scoord.ContentSequence[0].ReferencedSOPSequence[0];
    assert.equal(ref.ReferencedSOPInstanceUID, source.sop);
    assert.equal(ref.ReferencedSOPClassUID, source.sopClass);
    return Array.from(scoord.GraphicData as number[]);
  });
  assert.deepEqual(polylines[0], [2, 3, 10, 3, 10, 12, 2, 12, 2, 3]);
  assert.ok(polylines.some((p: number[]) => p[0] === 3 && p[1] === 22), 'the added lesion is reported');

  // dciodvfy (dicom3tools) checks the IOD's modules and attributes where dsrdump only parses; its warnings
  // (the private 99ATTSTUDIO scheme, a reviewer name not in Family^Given form) are expected, errors are not.
  if (!hasDciodvfy) {
    t.skip('dciodvfy (Debian dicom3tools) is not installed: the SR was not checked against the IOD');
    return;
  }
  const vfy = spawnSync('dciodvfy', [result.files[0]], { encoding: 'utf8' });
  assert.deepEqual(`${vfy.stdout}\n${vfy.stderr}`.split('\n').filter((l) => l.startsWith('Error')), [], vfy.stderr);
});

test('studio export runs from the command line and refuses a missing store with a clear message', () => {
  const cli = join(PROJECT_ROOT, 'bin', 'studio.mjs');
  const ok = spawnSync(process.execPath, [cli, 'export', '--store', storeFile, '--format', 'csv', '--out', join(dir, 'cli')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /csv: 7 findings on 3 images/);
  assert.ok(readdirSync(join(dir, 'cli')).includes('review.csv'));
  const missing = spawnSync(process.execPath, [cli, 'export', '--store', join(dir, 'none.sqlite'), '--format', 'coco', '--out', join(dir, 'cli2')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /none\.sqlite cannot be opened/);
  const bad = spawnSync(process.execPath, [cli, 'export', '--store', storeFile, '--format', 'xml', '--out', join(dir, 'cli3')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--format must be one of coco, csv, dicom-sr/);
});

test('reviewedDataset gives the confirmed boxes and masks per reviewed image, rejected findings excluded', () => {
  const { items } = reviewedDataset(storeFile);
  assert.equal(items.length, 2);
  const ct = items.find((i) => i.path === dicomPath)!;
  assert.deepEqual(ct.boxes, [[2, 3, 10, 12], [30, 2, 40, 9], [3, 22, 9, 28]]);
  assert.equal(ct.pending, 0);
  assert.deepEqual(ct.masks, [null, null, mask]);
  const png = items.find((i) => i.path === rasterPath)!;
  assert.deepEqual(png.boxes, [[5, 5, 15, 15]]);
  assert.equal(png.pending, 1);
  assert.equal(png.masks, undefined);
  assert.ok(!items.some((i) => i.path.endsWith('unreviewed.png')));
});

test('DICOM SR export: an image a reader confirmed has no lesion gets no report, as an all-rejected one, and says why', () => {
  const file = join(dir, 'no-lesion.sqlite');
  const store = openStore(file);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const clean = store.recordImageFindings(run, { path: dicomPath, contentHash: 'c'.repeat(64), width: W, height: H, uids: source }, []);
  store.confirmNoLesion({ imageId: clean.imageId, reviewer: 'dr.a' });
  store.close();
  const result = exportStore(file, 'dicom-sr', join(dir, 'sr-no-lesion'), 'test');
  assert.deepEqual(result.files, []);
  assert.deepEqual(result.skipped, [{ path: dicomPath, reason: 'no lesion (confirmed by a reader)' }]);
});

test('a reader’s outline sent with an accept or an edit is the exported shape: COCO segmentation and area, CSV has_mask', () => {
  const file = join(dir, 'outlined.sqlite');
  const store = openStore(file);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const model = new Uint8Array(W * H);
  for (let y = 3; y < 12; y++) model[y * W + 2] = 1;
  const { findingIds } = store.recordImageFindings(run, { path: rasterPath, contentHash: 'f'.repeat(64), width: W, height: H }, [
    { box: [2, 3, 10, 12], score: 0.9, area: 60, mask: rleEncode(model, W, H) },
    { box: [20, 20, 30, 30], score: 0.5, area: 80 },
  ]);
  const outline = (x0: number, y0: number, x1: number, y1: number) => {
    const m = new Uint8Array(W * H);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 1;
    return rleEncode(m, W, H);
  };
  const accepted = outline(4, 5, 9, 11);
  const edited = outline(21, 22, 27, 29);
  store.decide({ findingId: findingIds[0], reviewer: 'dr.a', decision: 'accepted', mask: accepted });
  store.decide({ findingId: findingIds[1], reviewer: 'dr.a', decision: 'edited', mask: edited });
  store.close();
  const coco = JSON.parse(readFileSync(exportStore(file, 'coco', join(dir, 'coco-outlined'), 'test').files[0], 'utf8')) as CocoDataset;
  const byFinding = (id: number) => coco.annotations.find((a) => a.attributes.finding_id === id)!;
  assert.deepEqual(byFinding(findingIds[0]).segmentation, accepted, 'the reader’s outline, not the model’s column');
  assert.equal(byFinding(findingIds[0]).area, 30);
  assert.deepEqual(byFinding(findingIds[0]).bbox, [2, 3, 8, 9], 'an outline inside the accepted box keeps it');
  assert.deepEqual(byFinding(findingIds[1]).segmentation, edited);
  assert.deepEqual(byFinding(findingIds[1]).bbox, [21, 22, 6, 7], 'an edit with an outline alone takes its bounding box');
  const [header, ...rows] = parseCsv(readFileSync(exportStore(file, 'csv', join(dir, 'csv-outlined')).files[0], 'utf8'));
  const col = (name: (typeof CSV_COLUMNS)[number]) => header.indexOf(name);
  assert.deepEqual(rows.map((r) => [r[col('decision')], r[col('has_mask')]]), [['accepted', '1'], ['edited', '1']]);
});
