/**
 * The review store from a batch's side: what `studio analyze --store FILE` (and batch.start with `store`)
 * need, in one object. Before decoding an image, `isDone(path)` says whether this model already recorded
 * it (by path, or by content if the file moved), so a resumed run skips it; after inference,
 * `record(path, result)` writes the image and its findings in one transaction, with the file's sha256
 * and, for DICOM, its UIDs. Crash-safe by construction: an image is recorded whole or not at all.
 *
 *   const rec = storeRecorder(storeFile, { model, backend, params: { threshold } });
 *   … if (await rec.isDone(path)) skip;  …  await rec.record(path, entry);  …  rec.finish(); rec.close();
 */
import { readFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import type { Finding, Map2D } from '../../preload/contract.ts';
import { sha256File } from './hash.ts';
import { findingMasks } from './lesion-mask.ts';
import { lesionScore } from '../detector/postprocess.ts';
import { type ImageUids, type RecordResult, type RunInfo, openStore } from './store.ts';

/** The UIDs of a DICOM file (header only), or undefined for anything else. */
export function readDicomUids(path: string): ImageUids | undefined {
  try {
    const bytes = readFileSync(path);
    if (bytes.length <= 132 || bytes.toString('latin1', 128, 132) !== 'DICM') return undefined;
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const h = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab, { untilTag: '7FE00010', includeUntilTagValue: false }).dict);
    const uids: ImageUids = {};
    if (typeof h.StudyInstanceUID === 'string') uids.study = h.StudyInstanceUID;
    if (typeof h.SeriesInstanceUID === 'string') uids.series = h.SeriesInstanceUID;
    if (typeof h.SOPInstanceUID === 'string') uids.sop = h.SOPInstanceUID;
    if (typeof h.SOPClassUID === 'string') uids.sopClass = h.SOPClassUID;
    return Object.keys(uids).length ? uids : undefined;
  } catch {
    return undefined;
  }
}

export interface StoreRecorder {
  readonly runId: number;
  readonly file: string;
  isDone(path: string): Promise<boolean>;
  /**
   * `mismatch`: why the model is not for this image (DetectionResult.mismatch), when it ran anyway; marks its
   * findings. `lesionMap`: the lesion map the findings were cut from (over the image's full extent) and the
   * threshold they were cut at; each finding is then stored with its own component as its mask, and the map's
   * peak and that threshold with the run's record of the image (what the informative worklist order scores).
   */
  record(path: string, result: { width: number; height: number; findings: Finding[]; mismatch?: string; lesionMap?: { map: Map2D; threshold: number; outline?: number } }): Promise<RecordResult>;
  finish(): void;
  close(): void;
}

export function storeRecorder(storeFile: string, run: RunInfo): StoreRecorder {
  const store = openStore(storeFile);
  const runId = store.beginRun(run);
  return {
    runId,
    file: store.file,
    async isDone(path) {
      if (store.isImageDone(path, run.model)) return true;
      try {
        return store.isImageDone(await sha256File(path), run.model);
      } catch {
        return false;
      }
    },
    async record(path, result) {
      const contentHash = await sha256File(path);
      const uids = readDicomUids(path);
      const masks = result.lesionMap ? findingMasks(result.lesionMap.map, result.width, result.height, result.lesionMap.threshold, result.findings, result.lesionMap.outline) : [];
      const findings = result.findings.map((f, i) => (masks[i] ? { box: f.box, score: f.score, area: f.area, mask: masks[i] } : { box: f.box, score: f.score, area: f.area }));
      const signals = result.lesionMap ? { lesionPeak: lesionScore(result.lesionMap.map), threshold: result.lesionMap.threshold } : {};
      return store.recordImageFindings(runId, { path, contentHash, width: result.width, height: result.height, ...(uids ? { uids } : {}) }, findings, { ...(result.mismatch === undefined ? {} : { mismatch: result.mismatch }), ...signals });
    },
    finish: () => store.finishRun(runId),
    close: () => store.close(),
  };
}
