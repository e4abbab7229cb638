/**
 * Issue 23: findings a model proposed on an image it is not for (`studio analyze --force`) are marked so in
 * the review store and in every export, and a store written before the mark existed migrates whole.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import dcmjs from 'dcmjs';
import { StudioError } from '../../preload/contract.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../main/review/schema.ts';
import { openStore } from '../../main/review/store.ts';
import { storeRecorder } from '../../main/review/recorder.ts';
import { exportStore } from '../../main/export/index.ts';
import { CSV_COLUMNS } from '../../main/export/csv.ts';
import { mismatchComment } from '../../main/export/sr.ts';
import type { CocoDataset } from '../../main/export/coco.ts';
import { parseCsv } from '../helpers/csv.ts';

const M = dcmjs.data.DicomMetaDictionary;
// dcmjs's naturalized datasets are untyped nested records whose shape the SR template decides.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Naturalized = any;

const dir = mkdtempSync(join(tmpdir(), 'review-mismatch-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hasDsrdump = spawnSync('dsrdump', ['--version']).status === 0;
const hasDciodvfy = spawnSync('dciodvfy', ['-version']).error === undefined;

const W = 48, H = 32;
const MISMATCH = 'kvasir-cbam is a model for colonoscopy frames (colour endoscopy); this image is a CT, so its findings here mean nothing';

/** A tiny DICOM image of `modality`, returning its UIDs. */
function writeDicom(path: string, modality: string): { study: string; series: string; sop: string; sopClass: string } {
  const uids = { study: M.uid(), series: M.uid(), sop: M.uid(), sopClass: modality === 'CT' ? '1.2.840.10008.5.1.4.1.1.2' : '1.2.840.10008.5.1.4.1.1.7' };
  writeFileSync(path, dcmjs.data.datasetToBuffer({
    _meta: { TransferSyntaxUID: { Value: ['1.2.840.10008.1.2.1'] } },
    _vrMap: { PixelData: 'OW' },
    SOPClassUID: uids.sopClass, SOPInstanceUID: uids.sop, StudyInstanceUID: uids.study, SeriesInstanceUID: uids.series,
    Modality: modality, PatientName: 'Test^Patient', PatientID: 'P-0023', PatientBirthDate: '19700101', PatientSex: 'O',
    StudyDate: '20260101', StudyTime: '120000', StudyID: '23', AccessionNumber: 'ACC23', ReferringPhysicianName: '',
    Rows: H, Columns: W, BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 0, SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2', PixelData: [new Uint16Array(W * H).map((_, i) => (i * 37) % 4096).buffer],
  }));
  return uids;
}

/** Lines of dciodvfy's report that are errors (warnings about the private coding scheme are expected). */
function dciodvfyErrors(file: string): string[] {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

// ---------------------------------------------------------------------------------------------------------
// The store

test('a store written at schema version 1 migrates whole: every row kept, run_images gains mismatch', () => {
  const file = join(dir, 'v1.sqlite');
  // Exactly what a version-1 studio wrote: the first migration, and rows in every table.
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  old.exec(MIGRATIONS[0]);
  old.pragma('user_version = 1');
  const at = '2026-01-01T00:00:00.000Z';
  old.prepare("INSERT INTO images (path, content_hash, width, height, flagged, flag_note, flagged_by, created) VALUES ('/data/a.png', ?, 100, 80, 1, 'blurred', 'dr.a', ?)").run('a'.repeat(64), at);
  old.prepare("INSERT INTO images (path, content_hash, study_uid, series_uid, sop_uid, width, height, created) VALUES ('/data/b.dcm', ?, '1.2.3', '1.2.3.4', '1.2.3.4.5', 64, 64, ?)").run('b'.repeat(64), at);
  old.prepare("INSERT INTO model_runs (model, backend, params, started, finished) VALUES ('kvasir-cbam', 'wasm', '{\"threshold\":0.5}', ?, ?)").run(at, at);
  old.prepare('INSERT INTO run_images (run_id, image_id, findings, finished) VALUES (1, 1, 2, ?), (1, 2, 1, ?)').run(at, at);
  const insertFinding = old.prepare("INSERT INTO findings (image_id, run_id, source, x0, y0, x1, y1, score, area, created) VALUES (?, 1, 'model', ?, ?, ?, ?, ?, ?, ?)");
  insertFinding.run(1, 10, 10, 30, 40, 0.9, 500, at);
  insertFinding.run(1, 50, 50, 60, 60, 0.3, 90, at);
  insertFinding.run(2, 1, 1, 5, 5, 0.6, 16, at);
  old.prepare("INSERT INTO findings (image_id, run_id, source, x0, y0, x1, y1, area, created_by, created) VALUES (1, NULL, 'reviewer', 70, 10, 90, 30, 400, 'dr.a', ?)").run(at);
  old.prepare("INSERT INTO annotations (finding_id, reviewer, x0, y0, x1, y1, created) VALUES (4, 'dr.a', 70, 10, 90, 30, ?), (2, 'dr.b', 49, 49, 61, 61, ?)").run(at, at);
  old.prepare("INSERT INTO audit (at, who, action, entity, entity_id, image_id, before, after) VALUES (?, 'model:kvasir-cbam', 'record', 'image', 1, 1, 'null', '{}'), (?, 'dr.a', 'decide', 'decision', 1, 1, 'null', '{}'), (?, 'dr.a', 'add', 'finding', 4, 1, 'null', '{}'), (?, 'dr.b', 'decide', 'decision', 2, 1, 'null', '{}')").run(at, at, at, at);
  old.prepare("INSERT INTO decisions (finding_id, reviewer, decision, annotation_id, note, decided, seq) VALUES (1, 'dr.a', 'accepted', NULL, 'clear', ?, 2), (4, 'dr.a', 'added', 1, NULL, ?, 3), (2, 'dr.b', 'edited', 2, NULL, ?, 4)").run(at, at, at);
  const count = (db: Database.Database) => Object.fromEntries(['images', 'model_runs', 'run_images', 'findings', 'annotations', 'decisions', 'audit'].map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
  const before = count(old);
  old.close();

  // A read-only open (training from the review) reads it as it is, before anyone migrates it.
  const reader = openStore(file, { readonly: true });
  const rowsBefore = reader.reviewRows();
  const worklistBefore = reader.worklist();
  assert.equal(rowsBefore.length, 4);
  assert.ok(rowsBefore.every((r) => r.finding.mismatch === undefined && r.image.mismatch === undefined));
  reader.close();

  const store = openStore(file);
  assert.equal(Number(store.sql.pragma('user_version', { simple: true })), SCHEMA_VERSION);
  assert.ok(SCHEMA_VERSION >= 2);
  const columns = (store.sql.prepare('PRAGMA table_info(run_images)').all() as { name: string; type: string }[]).map((c) => `${c.name} ${c.type}`);
  assert.ok(columns.includes('mismatch TEXT'), columns.join(', '));
  assert.deepEqual(count(store.sql), before, 'no row lost or added by the migration');
  assert.equal((store.sql.prepare('SELECT count(*) AS n FROM run_images WHERE mismatch IS NOT NULL').get() as { n: number }).n, 0, 'old runs are not marked');
  assert.deepEqual(store.reviewRows(), rowsBefore, 'every finding, decision, annotation and flag reads back the same');
  assert.deepEqual(store.worklist(), worklistBefore);
  assert.equal(store.integrityCheck(), 'ok');
  assert.equal(store.auditTrail().length, 4);
  assert.throws(() => store.sql.prepare('DELETE FROM audit').run(), /append-only/, 'the audit triggers survive');

  // The migrated store takes new, marked runs beside the old ones.
  const run = store.beginRun({ model: 'busi-cbam', backend: 'wasm' });
  const r = store.recordImageFindings(run, { path: '/data/b.dcm', contentHash: 'b'.repeat(64), width: 64, height: 64 }, [{ box: [2, 2, 9, 9], score: 0.8, area: 49 }], { mismatch: 'busi-cbam is a model for breast ultrasound; this image is a CT' });
  const view = store.findings(r.imageId);
  assert.deepEqual(view.findings.map((f) => [f.score, f.mismatch]), [[0.8, 'busi-cbam is a model for breast ultrasound; this image is a CT'], [0.6, undefined]]);
  store.close();
  // Migrating again is a no-op.
  const again = openStore(file);
  assert.deepEqual(count(again.sql), { ...before, model_runs: 2, run_images: 3, findings: 5, audit: 5 });
  again.close();
});

test('the store keeps a run\'s mismatch per image and hands it to that run\'s findings only', () => {
  const store = openStore(join(dir, 'api.sqlite'));
  const forced = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const fits = store.beginRun({ model: 'ct-model', backend: 'wasm' });
  const img = { path: '/data/ct.dcm', contentHash: '1'.repeat(64), width: W, height: H };
  const bad = store.recordImageFindings(forced, img, [{ box: [1, 1, 10, 10], score: 0.92, area: 81 }, { box: [20, 2, 30, 12], score: 0.6, area: 100 }], { mismatch: `  ${MISMATCH}\n` });
  const good = store.recordImageFindings(fits, img, [{ box: [5, 5, 15, 15], score: 0.7, area: 100 }]);
  const other = store.recordImageFindings(forced, { path: '/data/scope.png', contentHash: '2'.repeat(64), width: W, height: H }, [{ box: [2, 2, 8, 8], score: 0.5, area: 36 }], { mismatch: '   ' });
  const added = store.add({ imageId: bad.imageId, reviewer: 'dr.a', box: [30, 20, 40, 30] });

  const byId = new Map(store.findings(bad.imageId).findings.map((f) => [f.id, f]));
  for (const id of bad.findingIds) assert.equal(byId.get(id)!.mismatch, MISMATCH, 'trimmed, on each of the forced run\'s findings');
  assert.equal(byId.get(good.findingIds[0])!.mismatch, undefined, 'a model that fits the same image is not marked');
  assert.equal(byId.get(added.id)!.mismatch, undefined, 'a reviewer\'s own lesion is not marked');
  assert.equal(added.mismatch, undefined);
  assert.equal(store.finding(bad.findingIds[0]).mismatch, MISMATCH);
  assert.equal(store.decide({ findingId: bad.findingIds[0], reviewer: 'dr.a', decision: 'accepted' }).mismatch, MISMATCH, 'a decision\'s answer keeps the mark');
  assert.equal(store.findings(other.imageId).findings[0].mismatch, undefined, 'a blank text is no mismatch');

  const { items } = store.worklist();
  assert.equal(items.find((i) => i.imageId === bad.imageId)!.mismatch, MISMATCH);
  assert.equal(items.find((i) => i.imageId === other.imageId)!.mismatch, undefined);
  assert.equal(store.worklist({ model: 'ct-model' }).items.find((i) => i.imageId === bad.imageId)!.mismatch, undefined, 'filtered to a model that fits, no warning');

  const rows = store.reviewRows();
  assert.deepEqual(rows.filter((r) => r.finding.mismatch).map((r) => r.finding.id).sort(), [...bad.findingIds].sort());
  assert.ok(rows.filter((r) => r.image.id === bad.imageId).every((r) => r.image.mismatch === MISMATCH));

  const record = store.auditTrail({ imageId: bad.imageId }).filter((a) => a.action === 'record');
  assert.deepEqual(record.map((a) => (a.after as { mismatch?: string }).mismatch), [MISMATCH, undefined], 'the audit trail says which run was forced');

  const run3 = store.beginRun({ model: 'm3', backend: 'wasm' });
  for (const mismatch of [42, 'x'.repeat(2001)]) {
    assert.throws(() => store.recordImageFindings(run3, { ...img, path: '/data/z.png' }, [], { mismatch: mismatch as string }), (e: StudioError) => e.code === 'INVALID_PAYLOAD' && /mismatch/.test(e.message));
  }
  assert.equal(store.isImageDone('/data/z.png', 'm3'), false, 'a refused record writes nothing');
  store.close();
});

test('the batch recorder passes the mismatch on to the store', async () => {
  const file = join(dir, 'recorder.sqlite');
  const ct = join(dir, 'recorded ct.dcm');
  writeDicom(ct, 'CT');
  const png = join(dir, 'recorded.png');
  writeFileSync(png, 'raster bytes');
  const rec = storeRecorder(file, { model: 'kvasir-cbam', backend: 'wasm' });
  const a = await rec.record(ct, { width: W, height: H, findings: [{ box: [1, 1, 5, 5], score: 0.9, area: 16 }], mismatch: MISMATCH });
  const b = await rec.record(png, { width: W, height: H, findings: [{ box: [1, 1, 5, 5], score: 0.9, area: 16 }] });
  rec.finish();
  rec.close();
  const store = openStore(file);
  assert.equal(store.findings(a.imageId).findings[0].mismatch, MISMATCH);
  assert.equal(store.findings(b.imageId).findings[0].mismatch, undefined);
  store.close();
});

// ---------------------------------------------------------------------------------------------------------
// The exports: one mismatched run image (a CT under a colonoscopy model, forced) and normal ones

const exportStoreFile = join(dir, 'export.sqlite');
const ctPath = join(dir, 'chest ct.dcm');
const esPath = join(dir, 'colonoscopy.dcm');
const pngPath = join(dir, 'frame.png');
const ids = { forced: [] as number[], normal: [] as number[], added: 0, rejected: 0 };

before(() => {
  writeDicom(ctPath, 'CT');
  writeDicom(esPath, 'ES');
  writeFileSync(pngPath, 'not decoded by the exporter');
  const store = openStore(exportStoreFile);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const ct = store.recordImageFindings(run, { path: ctPath, contentHash: 'c'.repeat(64), width: W, height: H }, [
    { box: [2, 3, 10, 12], score: 0.92, area: 60 },
    { box: [20, 20, 30, 30], score: 0.81, area: 80 },
    { box: [30, 2, 40, 9], score: 0.55, area: 50 },
  ], { mismatch: MISMATCH });
  const es = store.recordImageFindings(run, { path: esPath, contentHash: 'd'.repeat(64), width: W, height: H }, [{ box: [5, 5, 15, 15], score: 0.88, area: 90 }]);
  const png = store.recordImageFindings(run, { path: pngPath, contentHash: 'e'.repeat(64), width: W, height: H }, [{ box: [4, 4, 14, 14], score: 0.7, area: 90 }]);
  store.finishRun(run);
  const [c1, c2, c3] = ct.findingIds;
  store.decide({ findingId: c1, reviewer: 'dr.a', decision: 'accepted', note: 'looks real despite the model' });
  store.decide({ findingId: c2, reviewer: 'dr.a', decision: 'edited', box: [19, 19, 31, 31] });
  store.decide({ findingId: c3, reviewer: 'dr.a', decision: 'rejected' });
  ids.added = store.add({ imageId: ct.imageId, reviewer: 'dr.a', box: [3, 22, 9, 28] }).id;
  store.decide({ findingId: es.findingIds[0], reviewer: 'dr.b', decision: 'accepted' });
  store.decide({ findingId: png.findingIds[0], reviewer: 'dr.b', decision: 'accepted' });
  ids.forced = [c1, c2];
  ids.rejected = c3;
  ids.normal = [es.findingIds[0], png.findingIds[0], ids.added];
  store.close();
});


test('CSV: the mismatch column, last, holds the text on exactly the forced run\'s findings', () => {
  const result = exportStore(exportStoreFile, 'csv', join(dir, 'csv'));
  const [header, ...rows] = parseCsv(readFileSync(result.files[0], 'utf8'));
  assert.deepEqual(header, [...CSV_COLUMNS]);
  assert.equal(CSV_COLUMNS.indexOf('mismatch'), 24, 'after every column older than it, before every newer one');
  const col = CSV_COLUMNS.indexOf('mismatch');
  const idCol = CSV_COLUMNS.indexOf('finding_id');
  for (const r of rows) assert.equal(r.length, CSV_COLUMNS.length);
  const marked = rows.filter((r) => r[col] !== '').map((r) => Number(r[idCol])).sort((a, b) => a - b);
  assert.deepEqual(marked, [...ids.forced, ids.rejected].sort((a, b) => a - b), 'every finding of the forced run, rejected ones too (CSV lists all)');
  for (const r of rows.filter((x) => x[col] !== '')) assert.equal(r[col], MISMATCH);
  assert.equal(result.mismatched, 3);
});

test('COCO: attributes.mismatch on exactly the forced run\'s confirmed findings, and mismatch on its image', () => {
  const result = exportStore(exportStoreFile, 'coco', join(dir, 'coco'), 'test');
  const coco = JSON.parse(readFileSync(result.files[0], 'utf8')) as CocoDataset;
  const marked = coco.annotations.filter((a) => a.attributes.mismatch !== undefined);
  assert.deepEqual(marked.map((a) => a.id).sort(), [...ids.forced].sort());
  for (const a of marked) assert.equal(a.attributes.mismatch, MISMATCH);
  for (const id of ids.normal) assert.equal(coco.annotations.find((a) => a.id === id)!.attributes.mismatch, undefined);
  assert.deepEqual(coco.images.filter((i) => i.mismatch).map((i) => [i.path, i.mismatch]), [[ctPath, MISMATCH]]);
  assert.equal(result.mismatched, 2);
});

test('DICOM SR: the forced run\'s confirmed findings keep their group with a Comment saying why; dsrdump and dciodvfy accept every SR', { skip: !hasDsrdump && 'dsrdump (DCMTK) is not installed' }, (t) => {
  const result = exportStore(exportStoreFile, 'dicom-sr', join(dir, 'sr'), 'test');
  assert.equal(result.files.length, 2, 'the CT and the endoscopy DICOM; the PNG is skipped');
  assert.equal(result.findings, 4, 'CT: accepted, edited, added; ES: accepted');
  assert.equal(result.mismatched, 2);
  const commentsOf = (file: string) => {
    const bytes = readFileSync(file);
    const sr = M.naturalizeDataset(dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).dict) as Naturalized;
    const groups = sr.ContentSequence.find((i: Naturalized) => i.ConceptNameCodeSequence[0].CodeValue === '126010').ContentSequence;
    return groups.map((g: Naturalized) => {
      const id = g.ContentSequence.find((i: Naturalized) => i.ConceptNameCodeSequence[0].CodeValue === '112039').TextValue as string;
      const comment = g.ContentSequence.find((i: Naturalized) => i.ConceptNameCodeSequence[0].CodeValue === '121106' && i.ConceptNameCodeSequence[0].CodingSchemeDesignator === 'DCM');
      const finding = g.ContentSequence.find((i: Naturalized) => i.ConceptNameCodeSequence[0].CodeValue === '121071');
      assert.equal(comment?.ValueType ?? 'TEXT', 'TEXT');
      return [Number(id.replace('finding-', '')), finding.ConceptCodeSequence[0].CodeMeaning, comment?.TextValue as string | undefined];
    });
  };
  const ctFile = result.files.find((f) => f.includes('chest_ct'))!;
  const esFile = result.files.find((f) => f.includes('colonoscopy'))!;
  const ct = commentsOf(ctFile);
  assert.deepEqual(ct.map((g: unknown[]) => g[0]).sort(), [...ids.forced, ids.added].sort(), 'the reader\'s confirmed findings are all reported');
  for (const [id, meaning, comment] of ct) {
    assert.equal(meaning, 'Lesion');
    assert.equal(comment, ids.forced.includes(id) ? mismatchComment(MISMATCH) : undefined, `finding ${id}`);
  }
  assert.ok(mismatchComment(MISMATCH).includes(MISMATCH));
  assert.deepEqual(commentsOf(esFile).map((g: unknown[]) => g[2]), [undefined], 'a finding on an image the model fits has no comment');

  for (const file of result.files) {
    const dump = spawnSync('dsrdump', ['+Pt', file], { encoding: 'utf8' });
    assert.equal(dump.status, 0, dump.stderr);
    assert.doesNotMatch(dump.stdout + dump.stderr, /Error/i);
  }
  // What a DICOM viewer shows a reader: the comment in full, inside the finding's measurement group.
  const dump = spawnSync('dsrdump', ['+Pt', '+Pl', ctFile], { encoding: 'utf8' }).stdout;
  assert.equal(dump.split('\n').filter((l) => l.includes(`<contains TEXT:(,,"Comment")="${mismatchComment(MISMATCH)}">`)).length, 2, dump);

  if (!hasDciodvfy) {
    t.skip('dciodvfy (Debian dicom3tools) is not installed: the SRs were not checked against the IOD');
    return;
  }
  for (const file of result.files) assert.deepEqual(dciodvfyErrors(file), [], `dciodvfy ${file}`);
});

test('DICOM SR from a store with hostile text still passes dciodvfy: control characters, a 72-byte CJK name, a lone surrogate, a long score', { skip: !hasDciodvfy && 'dciodvfy (Debian dicom3tools) is not installed' }, () => {
  const file = join(dir, 'hostile-text.sqlite');
  const image = join(dir, 'hostile text.dcm');
  writeDicom(image, 'ES');
  const store = openStore(file);
  const run = store.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const { findingIds } = store.recordImageFindings(run, { path: image, contentHash: 'f'.repeat(64), width: W, height: H }, [{ box: [5, 5, 15, 15], score: 0.000123456789012, area: 90 }]);
  store.finishRun(run);
  store.decide({ findingId: findingIds[0], reviewer: 'dr.a', decision: 'accepted', note: 'fine' });
  store.close();
  // What a store edited by hand (or a reader's paste from a terminal) can hold.
  const db = new Database(file);
  db.prepare('UPDATE decisions SET reviewer = ?, note = ?').run(`${'山田太郎医師'.repeat(4)}\u0007\nx`, 'see \u001b]8;;http://x\u0007link\u001b]8;;\u0007 \ud800 and a bell \u0007');
  db.close();
  const result = exportStore(file, 'dicom-sr', join(dir, 'sr-hostile'), 'test');
  assert.equal(result.files.length, 1);
  assert.deepEqual(dciodvfyErrors(result.files[0]), [], 'dciodvfy');
});
