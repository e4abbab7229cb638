/**
 * Models on disk: `models/<name>/model.json` + `weights.bin` (the tfjs layers format) + `card.json`.
 * tfjs's own `file://` handler needs tfjs-node, which cannot install here, so this is a plain-fs IOHandler.
 * Importing this module also registers the custom layers, so every loader can deserialise them.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readBoundedText } from '../fs/read.ts';
import { writeAtomic } from '../fs/write.ts';
import { join, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { INPUT_SIZE, StudioError, modelCardSchema, type ModelCard, type ModelInfo } from '../../preload/contract.ts';
import './layers/index.ts';
import { isFlipSet, type FlipSet } from './flips.ts';
import { childPath } from '../fs/names.ts';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const CARD_FILE = 'card.json';

export type { ModelCard };

/** Model files are written by a rename, so a reader never sees half of one (and a new file is a new inode: `fileVersion`). */
export { writeAtomic };

/**
 * What identifies one version of a file written by `writeAtomic`: its inode and mtime ('' when it is
 * missing). A rename makes a new inode, so a file written again within the old one's mtime tick still differs.
 */
export function fileVersion(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.mtimeMs}` : '';
}

/**
 * The most a model folder's JSON files are read to. The shipped model.json files are about 27 KB and the
 * cards under 20 KB: these leave room for networks and cards hundreds of times larger, not for a file that
 * never ends.
 */
export const MAX_MODEL_JSON_BYTES = 16 * 1024 ** 2;
export const MAX_CARD_BYTES = 4 * 1024 ** 2;

/**
 * The network's input side, checked before a backend runs it: a square RGB input within the sizes the
 * studio trains (INPUT_SIZE). A model.json that says 8192 took 10–16 GB at the first image.
 */
export function checkInputShape(shape: readonly (number | string | null | undefined)[], where: string): number {
  const [, h, w, c] = shape;
  const size = Number(h);
  if (shape.length !== 4 || h !== w || c !== 3 || !Number.isInteger(size) || size < INPUT_SIZE.min || size > INPUT_SIZE.max || size % INPUT_SIZE.multipleOf !== 0) {
    throw new StudioError('MODEL_LOAD_FAILED', `${where}: the network's input is [${shape.join(', ')}]; a detector takes [n, S, S, 3] with S a multiple of ${INPUT_SIZE.multipleOf} from ${INPUT_SIZE.min} to ${INPUT_SIZE.max}`, where);
  }
  return size;
}

/** A tfjs IOHandler over a folder: `tf.loadLayersModel(dirHandler(dir))`, `model.save(dirHandler(dir))`. */
export function dirHandler(dir: string): tf.io.IOHandler {
  const folder = resolve(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
      mkdirSync(folder, { recursive: true });
      const weights = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      writeAtomic(join(folder, WEIGHTS_FILE), new Uint8Array(weights));
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      writeAtomic(join(folder, MODEL_FILE), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs, weightData: weights }) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = join(folder, MODEL_FILE);
      if (!existsSync(jsonPath)) throw new StudioError('MODEL_LOAD_FAILED', `no ${MODEL_FILE} in ${folder}`, folder);
      let json: { modelTopology?: object; weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]; format?: string; generatedBy?: string; convertedBy?: string; trainingConfig?: tf.io.TrainingConfig; userDefinedMetadata?: Record<string, object> };
      let text: string;
      try {
        text = readBoundedText(jsonPath, MAX_MODEL_JSON_BYTES);
      } catch (err) {
        throw new StudioError('MODEL_LOAD_FAILED', `cannot read ${jsonPath}: ${(err as Error).message}`, jsonPath);
      }
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new StudioError('MODEL_LOAD_FAILED', `${jsonPath} is not valid JSON: ${(err as Error).message}`, jsonPath);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new StudioError('MODEL_LOAD_FAILED', `${jsonPath} has no modelTopology or weightsManifest`, jsonPath);
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const files: string[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) {
          const file = resolve(folder, p);
          // A bare prefix test would let models/foo read models/foo-other/…: compare whole path segments.
          if (!file.startsWith(folder + sep)) throw new StudioError('MODEL_LOAD_FAILED', `weights path escapes the model folder: ${p}`, jsonPath);
          // Each file once: one listed 2,000 times was read 2,000 times (2 GB) before the sizes were compared.
          if (files.includes(file)) throw new StudioError('MODEL_LOAD_FAILED', `${jsonPath} lists the weights file ${p} more than once`, jsonPath);
          // A regular file only: a weights path that is (or links to) /dev/zero or a FIFO would fill memory or block.
          if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new StudioError('MODEL_LOAD_FAILED', `weights file missing or not a regular file: ${file}`, file);
          files.push(file);
        }
      }
      const expected = weightSpecs.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1) * bytesPer(w.dtype), 0);
      // Sizes first, from the file system: nothing is read for a manifest its files cannot fill.
      const total = files.reduce((sum, f) => sum + statSync(f).size, 0);
      if (total !== expected) throw new StudioError('MODEL_LOAD_FAILED', `weights are ${total} bytes but model.json declares ${expected} (truncated or mismatched weights.bin)`, folder);
      const buffers = files.map((f) => readFileSync(f));
      if (buffers.reduce((sum, b) => sum + b.byteLength, 0) !== expected) throw new StudioError('MODEL_LOAD_FAILED', `the weights changed while they were read (${folder})`, folder);
      const weightData = new Uint8Array(total);
      let offset = 0;
      for (const b of buffers) {
        weightData.set(b, offset);
        offset += b.byteLength;
      }
      return {
        modelTopology: json.modelTopology,
        weightSpecs,
        weightData: weightData.buffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        trainingConfig: json.trainingConfig,
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

function bytesPer(dtype: string): number {
  return dtype === 'float32' || dtype === 'int32' ? 4 : dtype === 'bool' || dtype === 'uint8' ? 1 : dtype === 'float16' || dtype === 'uint16' || dtype === 'int16' ? 2 : 4;
}

/** Save a model and (optionally) its card into `dir`. */
export async function saveModel(model: tf.LayersModel, dir: string, card?: ModelCard): Promise<void> {
  await model.save(dirHandler(dir));
  if (card) writeCard(dir, card);
}

/** Load `dir`'s model; any failure becomes MODEL_LOAD_FAILED naming the folder and the reason. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(dirHandler(dir));
  } catch (err) {
    if (err instanceof StudioError) throw err;
    throw new StudioError('MODEL_LOAD_FAILED', `cannot load the model in ${resolve(dir)}: ${(err as Error).message}`, resolve(dir));
  }
}

/** Why a card does not parse, in a line: the first few fields and what is wrong with each. */
function cardProblems(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || 'the card'}: ${i.message}`)
    .join('; ');
}

/** How deep a card's values may nest (the studio's own cards go six levels deep). */
const MAX_CARD_DEPTH = 32;

/** How deep `value` nests, counted without recursion and up to one past `limit`. */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Write a card, refusing one that would not read back: a card is checked by the same schema both ways. */
export function writeCard(dir: string, card: ModelCard): void {
  const checked = modelCardSchema.safeParse(card);
  if (!checked.success) throw new StudioError('INTERNAL', `refusing to write an invalid model card to ${dir}: ${cardProblems(checked.error)}`, dir);
  mkdirSync(dir, { recursive: true });
  writeAtomic(join(dir, CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
}

/** A model's card, validated by the contract's schema: any problem is MODEL_LOAD_FAILED naming the field. */
export function readCard(dir: string): ModelCard {
  const path = join(dir, CARD_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readBoundedText(path, MAX_CARD_BYTES));
  } catch (err) {
    throw new StudioError('MODEL_LOAD_FAILED', `cannot read ${path}: ${(err as Error).message}`, path);
  }
  // The schema keeps fields it does not know (cards gain fields), so it does not bound their depth: a card
  // nested 20,000 deep parsed, but every response carrying it overflowed the stack, and models.list failed
  // for every model.
  if (depthOf(json, MAX_CARD_DEPTH) > MAX_CARD_DEPTH) throw new StudioError('MODEL_LOAD_FAILED', `${path} nests its values more than ${MAX_CARD_DEPTH} deep; a card is a few levels of fields`, path);
  const card = modelCardSchema.safeParse(json);
  if (!card.success) throw new StudioError('MODEL_LOAD_FAILED', `${path} is not a valid model card (${cardProblems(card.error)})`, path);
  // The file as written (the schema has no defaults or transforms): zod's copy would reorder its keys, and a
  // card rewritten with a new field should differ from the old by that field alone.
  return json as ModelCard;
}

/**
 * Check a model folder's card before its weights load, so a broken card is MODEL_LOAD_FAILED at once
 * rather than a crash later (a folder with no card at all is a bare model: its weights decide).
 */
export function checkCard(dir: string): ModelCard | undefined {
  return existsSync(join(dir, CARD_FILE)) ? readCard(dir) : undefined;
}

/** Lesion probability above which the map's components become findings, when no one chose one. */
export const DEFAULT_FINDING_THRESHOLD = 0.5;

/**
 * One field of a model's card, read at each request so that a recalibrated card applies to the next one.
 * Undefined when the card cannot be read: loading the model reports that properly; defaults do here.
 */
function cardField(dir: string, key: string): unknown {
  try {
    return (JSON.parse(readBoundedText(join(dir, CARD_FILE), MAX_CARD_BYTES)) as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * The threshold a model outlines lesions at: its card's `threshold`, calibrated on validation for Dice (what
 * evaluation scores an outline with), else 0.5. Lower than the finding threshold as a rule: a finding is
 * where the model is sure, its outline is where the lesion ends.
 */
export function outlineThreshold(dir: string): number {
  const t = cardField(dir, 'threshold');
  return typeof t === 'number' && t > 0 && t < 1 ? t : 0.5;
}

/**
 * The threshold findings are cut at: the caller's, else the card's `candidateThreshold` (calibrated by
 * training on the validation split, never test), else 0.5. A fixed 0.5 leaves small false positives on
 * models whose calibration says otherwise.
 */
export function findingThreshold(dir: string, requested?: number): number {
  if (requested !== undefined) return requested;
  const t = cardField(dir, 'candidateThreshold');
  return typeof t === 'number' && t > 0 && t < 1 ? t : DEFAULT_FINDING_THRESHOLD;
}

/**
 * The mirror images a detection averages over: the caller's, else the card's `flips` (chosen on the
 * validation split, with the thresholds calibrated for it), else none.
 */
export function modelFlips(dir: string, requested?: FlipSet): FlipSet {
  if (requested !== undefined) return requested;
  const f = cardField(dir, 'flips');
  return isFlipSet(f) ? f : 'none';
}

/** The spatial gate training fitted to the lesion mask, per the card (absent, or weight 0: none). */
export function supervisedGate(dir: string): string | undefined {
  const s = (cardField(dir, 'hyperparameters') as { attentionSupervision?: { layer?: unknown; weight?: unknown } } | undefined)?.attentionSupervision;
  return typeof s?.layer === 'string' && typeof s.weight === 'number' && s.weight > 0 ? s.layer : undefined;
}

/**
 * The appearance threshold the card calibrated for detections with `flips` (card.appearance.byFlips), with
 * the stamp of the fit it belongs to, if it has one.
 */
export function appearanceCalibration(dir: string, flips: FlipSet): { threshold: number; fittedAt?: string } | undefined {
  const a = cardField(dir, 'appearance') as { byFlips?: Record<string, { threshold?: unknown } | undefined>; fittedAt?: unknown } | undefined;
  const t = a?.byFlips?.[flips]?.threshold;
  if (!(typeof t === 'number' && t > 0 && Number.isFinite(t))) return undefined;
  return { threshold: t, ...(typeof a?.fittedAt === 'string' ? { fittedAt: a.fittedAt } : {}) };
}

/** Every model folder under `modelsDir` with a readable card; broken cards are skipped and reported. */
export function listModels(modelsDir: string, onError: (message: string) => void = () => {}): ModelInfo[] {
  if (!existsSync(modelsDir)) return [];
  const out: ModelInfo[] = [];
  for (const entry of readdirSync(modelsDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !existsSync(join(modelsDir, entry.name, CARD_FILE))) continue;
    try {
      const card = readCard(join(modelsDir, entry.name));
      out.push({ name: entry.name, variant: card.variant, inputSize: card.inputSize, card });
    } catch (err) {
      onError((err as Error).message);
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The folder of model `name` in `modelsDir`, refusing names that could escape it (main/fs/names.ts). */
export function modelDir(modelsDir: string, name: string): string {
  const dir = childPath(modelsDir, name, 'model');
  if (!existsSync(join(dir, MODEL_FILE))) throw new StudioError('NOT_FOUND', `no model '${name}' in ${modelsDir}`, name);
  return dir;
}
