/**
 * The wrong-input guard (issue 23): each shipped card says what its model is for, and the studio says so
 * when an image is not that kind, in the viewer's result and in batch analysis, instead of returning a
 * confident "lesion" on a chest CT. Real images: a CT and an MR from the DICOM corpus, a BUSI and a Kvasir frame.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createServices } from '../../main/services/index.ts';
import { analyze } from '../../main/batch/analyze.ts';
import { PROJECT_ROOT, loadSettings, referenceData } from '../../main/settings.ts';
import { mismatch } from '../../main/detector/fit.ts';
import type { DetectionResult, IntendedUse, OpenResult } from '../../preload/contract.ts';

const data = referenceData();
const skip = 'skip' in data ? data.skip : false;
const root = 'dir' in data ? data.dir : '';
const files = {
  ct: join(root, 'dicom', 'cornerstoneWADOImageLoader/testImages/CTImage.dcm_JPEGLSLosslessTransferSyntax_1.2.840.10008.1.2.4.80.dcm'),
  mr: join(root, 'dicom', 'pydicom/src/pydicom/data/test_files/MR_small_RLE.dcm'),
  busi: join(root, 'busi', 'images', 'benign (1).png'),
  kvasir: join(root, 'kvasir-seg', 'images', skip ? '' : readdirSync(join(root, 'kvasir-seg', 'images')).sort()[0]),
};
const tmp = mkdtempSync(join(tmpdir(), 'detector-fit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the fit check names the model, what it is for and what the image is; a card without intendedUse is not checked', () => {
  const use: IntendedUse = { images: 'colonoscopy frames (colour endoscopy)', colour: 'colour', modalities: ['ES'] };
  const grey = { width: 2, height: 1, data: new Uint8Array([90, 90, 90, 30, 30, 30]) };
  const colour = { width: 2, height: 1, data: new Uint8Array([200, 80, 60, 180, 90, 70]) };
  assert.equal(mismatch('m', use, { kind: 'dicom', modality: 'CT', rgb: grey }), 'm is a model for colonoscopy frames (colour endoscopy); this image is a CT, so its findings here mean nothing');
  assert.match(mismatch('m', use, { kind: 'raster', rgb: grey }) ?? '', /this image is greyscale/);
  assert.equal(mismatch('m', use, { kind: 'raster', rgb: colour }), undefined);
  assert.equal(mismatch('m', use, { kind: 'dicom', modality: 'ES', rgb: colour }), undefined);
  assert.match(mismatch('b', { images: 'breast ultrasound', colour: 'grey', modalities: ['US'] }, { kind: 'raster', rgb: colour }) ?? '', /this image is in colour/);
  assert.equal(mismatch('m', undefined, { kind: 'dicom', modality: 'CT', rgb: grey }), undefined);
});

test('detector.run warns on a CT, an MR and a BUSI image for a polyp model and on a Kvasir frame for a BUSI model, and is silent on each model\'s own kind', { skip, timeout: 300_000 }, async () => {
  const services = createServices({ shell: 'browser', settings: { ...loadSettings(), modelsDir: join(PROJECT_ROOT, 'models'), homeDir: tmp }, log: () => {} });
  try {
    const open = async (path: string) => {
      const r = await services.dispatch('imaging.open', { paths: [path] });
      assert.ok(r.ok, JSON.stringify(r));
      const opened = r.value as OpenResult;
      assert.equal(opened.errors.length, 0, JSON.stringify(opened.errors));
      return opened.images[0].id;
    };
    const run = async (model: string, path: string) => {
      const r = await services.dispatch('detector.run', { imageId: await open(path), model, flips: 'none' });
      assert.ok(r.ok, JSON.stringify(r));
      return (r.value as DetectionResult).mismatch;
    };
    assert.match((await run('kvasir-cbam', files.ct)) ?? '', /^kvasir-cbam is a model for colonoscopy frames \(colour endoscopy\); this image is a CT/);
    assert.match((await run('kvasir-cbam', files.mr)) ?? '', /this image is an MR image/);
    assert.match((await run('kvasir-cbam', files.busi)) ?? '', /this image is greyscale/);
    assert.match((await run('busi-cbam', files.kvasir)) ?? '', /^busi-cbam is a model for breast ultrasound images .*; this image is in colour/);
    assert.equal(await run('kvasir-cbam', files.kvasir), undefined);
    assert.equal(await run('busi-cbam', files.busi), undefined);
  } finally {
    await services.close();
  }
});

test('studio analyze refuses images that are not the model\'s kind and lists them; with force it analyses them and marks their findings', { skip, timeout: 300_000 }, async () => {
  const modelDir = join(PROJECT_ROOT, 'models', 'kvasir-cbam');
  const refused = await analyze({ inputs: [files.ct, files.kvasir], modelDir, modelName: 'kvasir-cbam', out: join(tmp, 'refused'), outputs: [], flips: 'none', workers: 1 });
  assert.equal(refused.analysed, 1);
  assert.deepEqual(refused.mismatched.map((m) => m.image), [files.ct]);
  assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'refused', 'mismatched.json'), 'utf8')).images.map((m: { image: string }) => m.image), [files.ct]);

  const forced = await analyze({ inputs: [files.ct, files.kvasir], modelDir, modelName: 'kvasir-cbam', out: join(tmp, 'forced'), outputs: [], flips: 'none', workers: 1, force: true });
  assert.equal(forced.analysed, 2);
  const entries = JSON.parse(readFileSync(join(tmp, 'forced', 'findings.json'), 'utf8')) as { image: string; mismatch?: string }[];
  assert.match(entries.find((e) => e.image === files.ct)?.mismatch ?? '', /this image is a CT/);
  assert.equal(entries.find((e) => e.image === files.kvasir)?.mismatch, undefined);
  const csv = readFileSync(join(tmp, 'forced', 'findings.csv'), 'utf8').trim().split('\n');
  assert.ok(csv.filter((l) => l.includes('this image is a CT')).length >= 1);
  assert.ok(csv.filter((l) => l.startsWith(files.kvasir)).every((l) => l.endsWith(',')), 'the Kvasir frame is not marked');
});
