/** Seeded, reproducible splits of a dataset's sample ids. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readBoundedText } from '../fs/read.ts';
import type { Sample } from './formats.ts';

export type SplitName = 'train' | 'val' | 'test';

/** mulberry32: a small, fast, seedable PRNG (the split and augmentation must be reproducible). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface Split {
  seed: number;
  ratios: [number, number, number];
  train: string[];
  val: string[];
  test: string[];
}

/** Train, validation and test shares when a run names none. */
const DEFAULT_RATIOS: [number, number, number] = [0.7, 0.15, 0.15];

/** Seeded split of sample ids (sorted first, so the split does not depend on directory order). */
export function splitDataset(ids: string[], seed: number, ratios: [number, number, number] = DEFAULT_RATIOS): Split {
  const order = shuffle([...ids].sort(), rng(seed));
  const total = ratios[0] + ratios[1] + ratios[2];
  const nTrain = Math.round((order.length * ratios[0]) / total);
  const nVal = Math.round((order.length * ratios[1]) / total);
  return { seed, ratios, train: order.slice(0, nTrain), val: order.slice(nTrain, nTrain + nVal), test: order.slice(nTrain + nVal) };
}

/** Sample ids by group; a sample without a group is a group of its own. */
function groupsOf(samples: Pick<Sample, 'id' | 'group'>[]): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const s of samples) {
    const key = s.group ?? `id:${s.id}`;
    const ids = byGroup.get(key);
    if (ids) ids.push(s.id);
    else byGroup.set(key, [s.id]);
  }
  return byGroup;
}

/** Each part of `a` followed by the same part of `b`. */
function joinParts(a: Split, b: Pick<Split, 'train' | 'val' | 'test'>): Split {
  return { ...a, train: [...a.train, ...b.train], val: [...a.val, ...b.val], test: [...a.test, ...b.test] };
}

/** Seeded split of groups of ids: whole groups go to one part, parts filled in shuffled group order. */
function splitGroups(samples: Pick<Sample, 'id' | 'group'>[], seed: number, ratios: [number, number, number]): Split {
  const byGroup = groupsOf(samples);
  const order = shuffle([...byGroup.keys()].sort(), rng(seed));
  const total = ratios[0] + ratios[1] + ratios[2];
  const nTrain = Math.round((samples.length * ratios[0]) / total);
  const nVal = Math.round((samples.length * ratios[1]) / total);
  const split: Split = { seed, ratios, train: [], val: [], test: [] };
  for (const key of order) {
    const ids = [...(byGroup.get(key) as string[])].sort();
    const part = split.train.length < nTrain ? split.train : split.val.length < nVal ? split.val : split.test;
    part.push(...ids);
  }
  return split;
}

/** Salt for the lesion-free images' split, so it does not mirror the lesion images' shuffle. */
const NEGATIVE_SALT = 0x4e4547;

/**
 * The split of a dataset's samples: lesion images and declared lesion-free ones split apart by the same
 * seeded rule, so every part holds both in proportion; samples of one group (near-duplicate frames) stay
 * in one part. A dataset with neither negatives nor groups splits exactly as splitDataset does.
 */
export function splitSamples(samples: Pick<Sample, 'id' | 'group' | 'negative'>[], seed: number, ratios: [number, number, number] = DEFAULT_RATIOS): Split {
  const positives = samples.filter((s) => !s.negative);
  const negatives = samples.filter((s) => s.negative);
  const a = positives.some((s) => s.group) ? splitGroups(positives, seed, ratios) : splitDataset(positives.map((s) => s.id), seed, ratios);
  if (negatives.length === 0) return a;
  return joinParts(a, splitGroups(negatives, seed ^ NEGATIVE_SALT, ratios));
}

/**
 * A stored split completed for the samples it does not name (lesion-free images added after the model was
 * trained, say): those are split by the same seeded rule and added, so they too land in one part for good.
 * A model never trained on them holds them all out; its test part gets its share.
 */
export function completeSplit(stored: Split, samples: Pick<Sample, 'id' | 'group' | 'negative'>[]): Split {
  const partOf = new Map<string, 'train' | 'val' | 'test'>();
  for (const part of ['train', 'val', 'test'] as const) for (const id of stored[part]) partOf.set(id, part);
  const rest = samples.filter((s) => !partOf.has(s.id));
  if (rest.length === 0) return stored;
  // A new near-duplicate of a frame already placed joins that frame's part: a frame like one trained on
  // must not be scored as held out.
  const groupPart = new Map<string, 'train' | 'val' | 'test'>();
  for (const s of samples) if (s.group && partOf.has(s.id)) groupPart.set(s.group, partOf.get(s.id) as 'train' | 'val' | 'test');
  const joined = joinParts(stored, { train: [], val: [], test: [] });
  const free = rest.filter((s) => {
    const part = s.group ? groupPart.get(s.group) : undefined;
    if (part) joined[part].push(s.id);
    return !part;
  });
  if (free.length === 0) return joined;
  return joinParts(joined, splitSamples(free, stored.seed ?? 42, stored.ratios ?? DEFAULT_RATIOS));
}

/**
 * `limit` samples, chosen by the seeded shuffle the trainer has always used; with groups, whole groups in
 * shuffled order (the last one may pass the limit), so a limit never cuts near-duplicate frames apart.
 */
export function limitSamples(samples: Pick<Sample, 'id' | 'group'>[], limit: number, seed: number): string[] {
  if (!samples.some((s) => s.group)) return shuffle(samples.map((s) => s.id).sort(), rng(seed)).slice(0, limit);
  const byGroup = groupsOf(samples);
  const out: string[] = [];
  for (const key of shuffle([...byGroup.keys()].sort(), rng(seed))) {
    if (out.length >= limit) break;
    out.push(...(byGroup.get(key) as string[]));
  }
  return out;
}

/** split.json lists ids: 64 MiB holds a million of them. */
const MAX_SPLIT_BYTES = 64 * 1024 ** 2;

/** The split a model was trained with (its folder's split.json), or undefined when it has none. */
export function readStoredSplit(modelDir: string): Split | undefined {
  const file = join(modelDir, 'split.json');
  return existsSync(file) ? (JSON.parse(readBoundedText(file, MAX_SPLIT_BYTES)) as Split) : undefined;
}
