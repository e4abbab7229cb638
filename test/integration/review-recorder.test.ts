import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import dcmjs from 'dcmjs';
import { readDicomUids, storeRecorder } from '../../main/review/recorder.ts';
import { openStore } from '../../main/review/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'review-recorder-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const M = dcmjs.data.DicomMetaDictionary;

function dicom(path: string, uids: { study: string; series: string; sop: string }): void {
  const ds = {
    _meta: { TransferSyntaxUID: { Value: ['1.2.840.10008.1.2.1'] } },
    _vrMap: { PixelData: 'OW' },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SOPInstanceUID: uids.sop, StudyInstanceUID: uids.study, SeriesInstanceUID: uids.series,
    Modality: 'OT', Rows: 4, Columns: 4, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2', PixelData: [new Uint16Array(16).buffer],
  };
  writeFileSync(path, dcmjs.data.datasetToBuffer(ds));
}

test('the batch recorder stores hash and DICOM UIDs, and a second run skips what the first finished, even moved files', async () => {
  const uids = { study: M.uid(), series: M.uid(), sop: M.uid() };
  const dcm = join(dir, 'a.dcm');
  const png = join(dir, 'b.png');
  dicom(dcm, uids);
  writeFileSync(png, 'raster bytes');
  assert.deepEqual(readDicomUids(dcm), { ...uids, sopClass: '1.2.840.10008.5.1.4.1.1.7' });
  assert.equal(readDicomUids(png), undefined);

  const file = join(dir, 'store.sqlite');
  const first = storeRecorder(file, { model: 'm', backend: 'wasm', params: { threshold: 0.5 } });
  assert.equal(await first.isDone(dcm), false);
  const r = await first.record(dcm, { width: 4, height: 4, findings: [{ box: [0, 0, 2, 2], score: 0.7, area: 4 }] });
  assert.equal(r.skipped, false);
  first.close(); // killed before the second image and before finish()

  const moved = join(dir, 'renamed.dcm');
  renameSync(dcm, moved);
  const second = storeRecorder(file, { model: 'm', backend: 'wasm' });
  assert.equal(await second.isDone(moved), true, 'the same content under a new path is done');
  assert.equal(await second.isDone(png), false);
  assert.equal(await second.isDone(join(dir, 'absent.png')), false, 'an unreadable file is simply not done');
  await second.record(png, { width: 8, height: 8, findings: [] });
  assert.equal(await second.isDone(png), true);
  second.finish();
  second.close();

  const store = openStore(file);
  const rows = store.sql.prepare('SELECT path, content_hash, study_uid, series_uid, sop_uid, sop_class_uid FROM images ORDER BY id').all() as Record<string, string | null>[];
  assert.equal(rows.length, 2);
  assert.deepEqual([rows[0].study_uid, rows[0].series_uid, rows[0].sop_uid], [uids.study, uids.series, uids.sop]);
  assert.match(rows[0].content_hash!, /^[0-9a-f]{64}$/);
  assert.equal(rows[1].study_uid, null);
  assert.deepEqual(store.runs().map((x) => x.finished !== null), [false, true]);
  store.close();
});
