/**
 * The appearance score measured (issue 23): a model's shipped appearance statistics and threshold (fitted on
 * its training images, calibrated on its validation ones: main/training/appearance.ts) read on its own
 * val/test split and on image sets that are, or are not, its kind. Prints one JSON line per set: how many images
 * score above the calibrated threshold, and the score's quantiles.
 *
 *   node --import tsx scripts/appearance-experiment.ts --model kvasir-cbam-neg [--flips none|h|hv]   (after studio appearance --model kvasir-cbam-neg)
 *
 * Sets: the model's own val/test split; for a colour (polyp) model, its test images with red and blue
 * swapped (another device's colour order), greyscale, blurred, darker, re-encoded at JPEG quality 30, BUSI
 * ultrasound, and frames of the DICOM corpus's CT, MR, CR, colour ultrasound and colour OT images; for a grey
 * (ultrasound) model, Kvasir and HyperKvasir frames made grey, the same DICOM frames, and its own test
 * images darker, blurred and at JPEG quality 30.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type Sharp } from 'sharp';
import { loadSettings } from '../main/settings.ts';
import { readCard } from '../main/detector/io.ts';
import { decodeForDetector } from '../main/detector/decode.ts';
import { letterbox, type RGBImage } from '../main/detector/preprocess.ts';
import { predictAppearance } from '../main/detector/pipeline.ts';
import { inferenceBackend } from '../main/training/appearance.ts';
import { appearanceScore, meanOfViews, readAppearance, roundScore } from '../main/detector/appearance.ts';
import { quantile } from '../main/core/stats.ts';
import { isUnfamiliar } from '../preload/fit.ts';
import { listNegatives, openDataset } from '../main/datasets/index.ts';
import { isFlipSet } from '../main/detector/flips.ts';
import { resolveProjectPath } from '../main/settings.ts';
import type { Split } from '../main/datasets/index.ts';
import { useBackend } from '../main/detector/kernels/backend.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'kvasir-cbam-neg' }, flips: { type: 'string' } } });
const settings = loadSettings();
const dataDir = settings.dataDir!;
const dir = join(settings.modelsDir, values.model as string);
const card = readCard(dir);
const S = card.inputSize;
// The card's mirror averaging, as the viewer runs it, unless --flips names another.
const flips = isFlipSet(values.flips) ? values.flips : isFlipSet(card.flips) ? card.flips : 'none';
const grey = card.intendedUse?.colour === 'grey';

// The ONNX export is made from the TF.js model: a backend must be up either way.
await useBackend();
const backend = await inferenceBackend(dir);

type Transform = (rgb: RGBImage) => Promise<RGBImage>;
const same: Transform = async (x) => x;
const viaSharp = (f: (s: Sharp) => Sharp): Transform => async (x) => {
  const { data, info } = await f(sharp(Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength), { raw: { width: x.width, height: x.height, channels: 3 } })).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
};
const swap: Transform = async (x) => {
  const d = new Uint8Array(x.data);
  for (let i = 0; i < d.length; i += 3) [d[i], d[i + 2]] = [d[i + 2], d[i]];
  return { ...x, data: d };
};
const toGrey: Transform = async (x) => {
  const d = new Uint8Array(x.data.length);
  for (let i = 0; i < d.length; i += 3) d[i] = d[i + 1] = d[i + 2] = Math.round(0.299 * x.data[i] + 0.587 * x.data[i + 1] + 0.114 * x.data[i + 2]);
  return { ...x, data: d };
};
const blur: Transform = viaSharp((s) => s.blur(3));
const darker: Transform = viaSharp((s) => s.linear(0.7, 0));
const jpeg30: Transform = async (x) => viaSharp((s) => s)({ ...(await decodeJpeg(await sharp(Buffer.from(x.data), { raw: { width: x.width, height: x.height, channels: 3 } }).jpeg({ quality: 30 }).toBuffer())) });
async function decodeJpeg(buf: Buffer): Promise<RGBImage> {
  const { data, info } = await sharp(buf).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

async function features(paths: string[], t: Transform = same): Promise<Float32Array[]> {
  const inputs: { image: Float32Array; box: { width: number; height: number } }[] = [];
  const out: Float32Array[] = [];
  const flush = async () => {
    out.push(...(await predictAppearance(backend, inputs.splice(0), { flips })).views.map((v) => meanOfViews(v)));
  };
  for (const p of paths) {
    try {
      const rgb = await t((await decodeForDetector(p)).rgb);
      const { input, box } = letterbox(rgb, S);
      inputs.push({ image: input, box });
      if (inputs.length >= 32) await flush();
    } catch {
      // an undecodable corpus file is not an image of any kind
    }
  }
  await flush();
  return out;
}

const negatives = (card.data?.negativeFolders ?? []).map((f) => resolveProjectPath(f));
const dataPath = resolveProjectPath(card.data!.path!);
const ds = await openDataset(dataPath, 'masks', { negatives });
const byId = new Map(ds.samples.map((s) => [s.id, s]));
const split = JSON.parse(readFileSync(join(dir, 'split.json'), 'utf8')) as Split;
const pathsOf = (ids: string[]) => ids.filter((id) => byId.has(id)).map((id) => byId.get(id)!.image);

// The shipped statistics and threshold (studio appearance / training wrote them), read as the engine reads them.
const calibrated = card.appearance?.byFlips[flips];
const stats = readAppearance(dir, flips, calibrated && { threshold: calibrated.threshold, fittedAt: card.appearance?.fittedAt });
if (!stats) throw new Error(`${values.model} has no appearance statistics: run studio appearance --model ${values.model}`);
const threshold = stats.threshold;
// Rounded and compared as the engine does (appearanceOf, isUnfamiliar), so a share here is the share the studio flags.
const scoreAll = (vs: Float32Array[]) => vs.map((v) => roundScore(appearanceScore(stats, v))).sort((a, b) => a - b);
const flaggedOf = (s: number[]) => s.filter((score) => isUnfamiliar({ score, threshold })).length;
const val = scoreAll(await features(pathsOf(split.val)));
console.log(JSON.stringify({ model: values.model, flips, threshold, fitImages: card.appearance?.fitImages, ...card.appearance?.byFlips[flips] }));
const report = (set: string, s: number[]) => console.log(JSON.stringify({ model: values.model, set, images: s.length, flagged: flaggedOf(s), share: +(flaggedOf(s) / Math.max(1, s.length)).toFixed(3), p05: +quantile(s, 0.05).toFixed(2), p50: +quantile(s, 0.5).toFixed(2), p95: +quantile(s, 0.95).toFixed(2), max: +(s.at(-1) ?? NaN).toFixed(2) }));
report('val', val);
const testPaths = pathsOf(split.test);
report('test', scoreAll(await features(testPaths)));
const testPositives = pathsOf(split.test.filter((id) => !byId.get(id)?.negative));

const manifest = readFileSync(join(dataDir, 'dicom', 'manifest.csv'), 'utf8').trim().split('\n').slice(1);
const dicomOf = (modalities: string[], photometric?: RegExp) =>
  manifest
    .map((l) => l.split(','))
    .filter((c) => modalities.includes(c[6]) && (!photometric || photometric.test(c[7])) && !c[28].includes('broken'))
    .map((c) => join(dataDir, 'dicom', c[0]));
report('DICOM CT', scoreAll(await features(dicomOf(['CT']))));
report('DICOM MR', scoreAll(await features(dicomOf(['MR']))));
report('DICOM CR/DX', scoreAll(await features(dicomOf(['CR', 'DX']))));
report('DICOM colour US/OT', scoreAll(await features(dicomOf(['US', 'OT'], /RGB|YBR|PALETTE/))));
if (!grey) {
  report('test lesions, R↔B swapped', scoreAll(await features(testPositives, swap)));
  report('test lesions, greyscale', scoreAll(await features(testPositives, toGrey)));
  report('test lesions, blurred σ3', scoreAll(await features(testPositives, blur)));
  report('test lesions, 0.7× darker', scoreAll(await features(testPositives, darker)));
  report('test lesions, JPEG q30', scoreAll(await features(testPositives, jpeg30)));
  const hk = listNegatives(join(dataDir, 'hyperkvasir-normal'), 'n/').map((s) => s.image);
  if (!negatives.length) report('HyperKvasir normals (another source; never trained on)', scoreAll(await features(hk.filter((_, i) => i % 4 === 0))));
  const busi = (await openDataset(join(dataDir, 'busi'), 'masks')).samples.map((s) => s.image);
  report('BUSI ultrasound', scoreAll(await features(busi.slice(0, 200))));
} else {
  report('test, blurred σ3', scoreAll(await features(testPaths, blur)));
  report('test, 0.7× darker', scoreAll(await features(testPaths, darker)));
  report('test, JPEG q30', scoreAll(await features(testPaths, jpeg30)));
  const kv = (await openDataset(join(dataDir, 'kvasir-seg'), 'masks')).samples.map((s) => s.image);
  report('Kvasir made grey', scoreAll(await features(kv.slice(0, 200), toGrey)));
  const hk = listNegatives(join(dataDir, 'hyperkvasir-normal'), 'n/').map((s) => s.image);
  report('HyperKvasir made grey', scoreAll(await features(hk.slice(0, 200), toGrey)));
}
await backend.dispose();
