/**
 * Batch analysis: every image under the inputs through one detector, on one inference worker per core,
 * with decoding on this thread overlapped with inference. A file that fails is recorded and skipped.
 * Writes DIR/findings.json, DIR/findings.csv, DIR/errors.json and per image <stem>.heatmap.png,
 * <stem>.attention.png (variants with spatial attention) and <stem>.overlay.png.
 */
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { StudioError, type Finding } from '../../preload/contract.ts';
import { DetectorEngine, coreCount } from '../detector/engine.ts';
import { checkCard, findingThreshold, modelFlips, outlineThreshold } from '../detector/io.ts';
import { mismatch, unfamiliar } from '../detector/fit.ts';
import { decodeForDetector } from '../detector/decode.ts';
import type { FlipSet } from '../detector/flips.ts';
import { listImageFiles } from '../imaging/index.ts';
import type { RGBImage } from '../detector/preprocess.ts';
import { CSV_HEADER, OUTPUT_KINDS, csvRows, mapToGrey, writeGreyPng, writeMapPng, writeOverlayPng, type OutputKind } from './outputs.ts';
import { storeRecorder, type StoreRecorder } from '../review/recorder.ts';
import { ensureDir } from '../fs/dirs.ts';

export interface AnalysisEntry {
  image: string;
  width: number;
  height: number;
  model: string;
  backend: string;
  findings: Finding[];
  /** The image-level "lesion present" score (the lesion map's peak; DetectionResult.lesionScore) and the finding threshold it is read against. */
  lesionScore: number;
  threshold: number;
  /** Output files, relative to the output folder; null for one not written (not asked for, or no spatial attention). */
  outputs: { heatmap: string | null; attention: string | null; overlay: string | null };
  ms: number;
  /** Mirrored views the findings average (1, 2 or 4: the flips this run used). */
  views: number;
  /** How unlike the model's training images this one looks to it, against its card's threshold (DetectionResult.appearance). */
  appearance?: { score: number; threshold: number };
  /**
   * Why the image is not the kind the model is for: declared (analysed anyway with `force`: its findings
   * mean nothing), or its appearance score above the threshold (analysed, and marked so).
   */
  mismatch?: string;
}

export interface AnalysisProgress {
  done: number;
  total: number;
  failed: number;
  imagesPerSec: number;
  etaSec: number;
  current?: string;
}

export interface AnalysisOptions {
  inputs: string[];
  /** The model folder (models/<name>). */
  modelDir: string;
  modelName: string;
  out: string;
  threshold?: number;
  /** Mirror images to average over (default: the card's flips). */
  flips?: FlipSet;
  /** Which per-image files to write (default all three; [] writes only findings.json/.csv). */
  outputs?: readonly OutputKind[];
  backend?: string;
  /** Inference runtime (settings.runtime): auto, onnxruntime[-cpu|-cuda] or tfjs. */
  runtime?: string;
  workers?: number;
  /**
   * A review store file (main/review/store.ts): each analysed image and its findings are recorded there in
   * one transaction, and an image this model already recorded is skipped before decoding, so an
   * interrupted run (even kill -9) resumes without repeating or losing work.
   */
  store?: string;
  /** Analyse images that are not the kind the model's card says it is for (their findings are marked so); default: refuse them. */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?(p: AnalysisProgress): void;
  /** Called once per analysed image, after its files are written (and it is recorded). A rejection fails only that image. */
  onImageResult?(entry: AnalysisEntry, path: string): Promise<void>;
}

export interface AnalysisSummary {
  total: number;
  analysed: number;
  /** Images skipped because the review store already holds them (`store`). */
  skipped: number;
  /**
   * Images not the kind the model is for. `declared` (DICOM Modality, colour or grey): refused without
   * `force`, analysed and marked with it. `appearance` (the model's own features say so): analysed and
   * marked either way, since the score is a measurement with a small rate of false alarms on the model's own
   * kind of image from elsewhere (docs/experiments.md), and refusing would drop real findings.
   */
  mismatched: { image: string; reason: string; by: 'declared' | 'appearance' }[];
  failed: { image: string; error: string }[];
  cancelled: boolean;
  seconds: number;
  imagesPerSec: number;
  backend: string;
  out: string;
}

/** How many of a run's mismatched images each check found: refused or forced (`declared`), analysed and marked (`appearance`). */
export function mismatchCounts(summary: Pick<AnalysisSummary, 'mismatched'>): { declared: number; appearance: number } {
  const declared = summary.mismatched.filter((m) => m.by === 'declared').length;
  return { declared, appearance: summary.mismatched.length - declared };
}

function uniqueStem(path: string, taken: Set<string>): string {
  const base = basename(path, extname(path)).replace(/[^A-Za-z0-9._-]/g, '_') || 'image';
  let stem = base;
  for (let i = 2; taken.has(stem); i++) stem = `${base}-${i}`;
  taken.add(stem);
  return stem;
}

export async function analyze(options: AnalysisOptions): Promise<AnalysisSummary> {
  const started = performance.now();
  const out = resolve(options.out);
  ensureDir(out);
  const listing = await listImageFiles(options.inputs);
  const failed: { image: string; error: string }[] = listing.errors.map((e) => ({ image: e.file, error: e.message }));
  const files = listing.files;
  const total = files.length + listing.errors.length;
  const wanted = new Set<OutputKind>(options.outputs ?? OUTPUT_KINDS);
  const threshold = findingThreshold(options.modelDir, options.threshold);
  // Where an accepted finding's lesion ends, for the store's outline of it (review/lesion-mask.ts).
  const outline = outlineThreshold(options.modelDir);
  const flips = modelFlips(options.modelDir, options.flips);
  // Checked up front: a card that does not parse stops the batch before any image is decoded.
  const intendedUse = checkCard(options.modelDir)?.intendedUse;
  const mismatched: AnalysisSummary['mismatched'] = [];
  const workers = Math.max(1, Math.min(options.workers ?? coreCount(), Math.max(1, files.length)));
  const engine = new DetectorEngine({ workers, backend: options.backend, runtime: options.runtime });
  const entries: (AnalysisEntry | undefined)[] = new Array(files.length);
  const stems = new Set<string>();
  let done = listing.errors.length;
  let skipped = 0;
  let cancelled = false;
  let rec: StoreRecorder | undefined;
  /** A failure that dooms every image (the model cannot load); kept here because its job may settle unobserved. */
  let fatal: unknown;

  const progress = (current?: string) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? (done - skipped - listing.errors.length) / seconds : 0;
    options.onProgress?.({ done, total, failed: failed.length, imagesPerSec: rate, etaSec: rate > 0 ? (total - done) / rate : NaN, current });
  };

  try {
    const backend = (await engine.backend()).backend;
    if (options.store) rec = storeRecorder(options.store, { model: options.modelName, backend, params: { threshold, flips } });
    progress();
    // Keep every worker busy plus one decoded image waiting per worker, so decoding overlaps inference.
    const inFlight = new Set<Promise<void>>();
    const limit = workers * 2;
    for (let i = 0; i < files.length; i++) {
      if (options.signal?.aborted) {
        cancelled = true;
        break;
      }
      if (fatal) break;
      const path = files[i];
      const stem = uniqueStem(path, stems);
      let image: RGBImage;
      let wrong: string | undefined;
      try {
        if (rec && (await rec.isDone(path))) {
          skipped++;
          done++;
          progress(path);
          continue;
        }
        const decoded = await decodeForDetector(path);
        image = decoded.rgb;
        wrong = mismatch(options.modelName, intendedUse, decoded);
        if (wrong) {
          mismatched.push({ image: path, reason: wrong, by: 'declared' });
          if (!options.force) {
            done++;
            progress(path);
            continue;
          }
        }
      } catch (err) {
        failed.push({ image: path, error: (err as Error).message });
        done++;
        progress(path);
        continue;
      }
      const { width, height } = image;
      const job = (async () => {
        try {
          // Without an overlay the pixels are not needed here after inference: hand them over without a copy
          // (when they own their whole buffer; a view into a shared one is copied).
          const own = image.data.byteOffset === 0 && image.data.byteLength === image.data.buffer.byteLength;
          const r = await engine.detect(options.modelDir, image, { threshold, flips, transfer: own && !wanted.has('overlay') });
          const odd = wrong ? undefined : unfamiliar(options.modelName, intendedUse, r.appearance);
          if (odd) mismatched.push({ image: path, reason: odd, by: 'appearance' });
          const why = wrong ?? odd;
          const spatial = r.attention.filter((a) => a.kind === 'spatial');
          // The map training fitted to the lesion mask, else the deepest gate.
          const supervised = spatial.find((a) => a.supervised) ?? spatial.at(-1);
          const names = { heatmap: wanted.has('heatmap') ? `${stem}.heatmap.png` : null, attention: supervised && wanted.has('attention') ? `${stem}.attention.png` : null, overlay: wanted.has('overlay') ? `${stem}.overlay.png` : null };
          const writes: Promise<void>[] = [];
          if (names.overlay) {
            const heat = await mapToGrey(r.heatmap, width, height);
            if (names.heatmap) writes.push(writeGreyPng(heat, width, height, join(out, names.heatmap)));
            writes.push(writeOverlayPng(image, heat, r.findings, join(out, names.overlay)));
          } else if (names.heatmap) writes.push(writeMapPng(r.heatmap, width, height, join(out, names.heatmap)));
          if (names.attention && supervised) writes.push(writeMapPng(supervised.map, width, height, join(out, names.attention)));
          await Promise.all(writes);
          const entry: AnalysisEntry = { image: path, width, height, model: options.modelName, backend, findings: r.findings, lesionScore: Math.round(r.lesionScore * 1000) / 1000, threshold, outputs: names, ms: Math.round(r.ms * 10) / 10, views: r.passes, ...(r.appearance ? { appearance: r.appearance } : {}), ...(why ? { mismatch: why } : {}) };
          // The lesion map the findings were cut from: the store keeps each finding's own component as its mask,
          // and the map's peak with the threshold, which the informative worklist order scores.
          await rec?.record(path, { ...entry, lesionMap: { map: r.heatmap, threshold, outline } });
          await options.onImageResult?.(entry, path);
          entries[i] = entry;
        } catch (err) {
          // A model that cannot load fails every image the same way: stop rather than repeat it.
          if (err instanceof StudioError && (err.code === 'MODEL_LOAD_FAILED' || err.code === 'NOT_FOUND')) {
            fatal ??= err;
            throw err;
          }
          failed.push({ image: path, error: (err as Error).message });
        } finally {
          done++;
          progress(path);
        }
      })();
      inFlight.add(job);
      job.finally(() => inFlight.delete(job)).catch(() => {});
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (fatal) throw fatal;
    const analysed = entries.filter((e): e is AnalysisEntry => !!e);
    writeFileSync(join(out, 'findings.json'), `${JSON.stringify(analysed, null, 1)}\n`);
    await writeFile(join(out, 'findings.csv'), `${[CSV_HEADER, ...analysed.flatMap(csvRows)].join('\n')}\n`);
    writeFileSync(join(out, 'errors.json'), `${JSON.stringify(failed, null, 1)}\n`);
    if (mismatched.length) writeFileSync(join(out, 'mismatched.json'), `${JSON.stringify({ forced: Boolean(options.force), images: mismatched }, null, 1)}\n`);
    if (!cancelled) rec?.finish();
    const seconds = (performance.now() - started) / 1000;
    return { total, analysed: analysed.length, skipped, mismatched, failed, cancelled, seconds, imagesPerSec: analysed.length / seconds, backend, out };
  } finally {
    await engine.close();
    rec?.close();
  }
}
