/**
 * What a run would train on, before it starts (main/datasets/plan.ts), on small folders made here: the
 * counts of images, lesion images, lesions and lesion-free images for the whole set and each split part
 * (the very split the trainer makes), what a review store holds back, and why a set cannot train.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { MIN_TRAINING_IMAGES, StudioError } from '../../preload/contract.ts';
import { rleEncode } from '../../main/review/rle.ts';
import { openStore } from '../../main/review/store.ts';
import { openDataset, reviewedDataset, splitSamples } from '../../main/datasets/index.ts';
import { countRegions, planTraining, refuseUntrainable, runSampleIds } from '../../main/datasets/plan.ts';
import { lesionCandidates } from '../../main/detector/postprocess.ts';

const root = mkdtempSync(join(tmpdir(), 'datasets-plan-'));
after(() => rmSync(root, { recursive: true, force: true }));
const W = 48;
const H = 40;

/** A mask with filled discs ([cx, cy, r]) and single lit pixels (specks). */
function maskOf(discs: [number, number, number][], specks: [number, number][] = []): Buffer {
  const m = Buffer.alloc(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (discs.some(([cx, cy, r]) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r)) m[y * W + x] = 255;
  for (const [x, y] of specks) m[y * W + x] = 255;
  return m;
}

const png = (data: Buffer, channels: 1 | 3, file: string) => sharp(data, { raw: { width: W, height: H, channels } }).png().toFile(file);

/** `masks` folder: images/ + masks/ (one mask per entry), and `negatives` lesion-free images in negatives/. */
async function maskFolder(dir: string, masks: Buffer[], negatives = 0): Promise<string> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  for (const [i, m] of masks.entries()) {
    const name = `case${String(i).padStart(2, '0')}.png`;
    await png(Buffer.alloc(W * H * 3, 80 + i), 3, join(dir, 'images', name));
    await png(m, 1, join(dir, 'masks', name));
  }
  if (negatives) {
    mkdirSync(join(dir, 'negatives'), { recursive: true });
    for (let i = 0; i < negatives; i++) await png(Buffer.alloc(W * H * 3, 30 + i), 3, join(dir, 'negatives', `normal${i}.png`));
  }
  return dir;
}

let mixed: string;
let allEmpty: string;
let tiny: string;
let store: string;
let pendingStore: string;

before(async () => {
  // 12 images: one with two lesions, one with an empty mask, ten with one lesion (the first of them also
  // a one-pixel speck, which is no lesion of its own); and 3 lesion-free images in negatives/.
  mixed = await maskFolder(
    join(root, 'mixed'),
    Array.from({ length: 12 }, (_, i) => (i === 0 ? maskOf([[10, 10, 5], [36, 28, 6]]) : i === 1 ? maskOf([]) : maskOf([[24, 20, 6]], i === 2 ? [[0, 0]] : []))),
    3,
  );
  allEmpty = await maskFolder(join(root, 'all-empty'), Array.from({ length: 16 }, () => maskOf([])));
  tiny = await maskFolder(join(root, 'tiny'), Array.from({ length: 3 }, () => maskOf([[24, 20, 6]])));

  // A review store with an image of each kind a partly reviewed site has.
  const imagePath = (name: string) => join(root, 'site', `${name}.png`);
  mkdirSync(join(root, 'site'));
  for (const name of ['unreviewed', 'half', 'complete', 'rejected', 'painted']) await png(Buffer.alloc(W * H * 3, 90), 3, imagePath(name));
  store = join(root, 'review.sqlite');
  const s = openStore(store);
  const run = s.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  const image = (name: string, boxes: [number, number, number, number][]) =>
    s.recordImageFindings(run, { path: imagePath(name), contentHash: createHash('sha256').update(name).digest('hex'), width: W, height: H }, boxes.map((box) => ({ box, score: 0.8, area: 100 })));
  image('unreviewed', [[4, 4, 20, 20]]);
  const half = image('half', [[4, 4, 20, 20], [30, 10, 44, 30]]);
  s.decide({ findingId: half.findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
  const complete = image('complete', [[4, 4, 20, 20], [30, 10, 44, 30]]);
  s.decide({ findingId: complete.findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
  s.decide({ findingId: complete.findingIds[1], reviewer: 'dr.a', decision: 'rejected' });
  const rejected = image('rejected', [[10, 10, 30, 30]]);
  s.decide({ findingId: rejected.findingIds[0], reviewer: 'dr.b', decision: 'rejected' });
  // A missed lesion a reader painted (two separate strokes in one mask), the model's false one rejected.
  const painted = image('painted', [[2, 2, 12, 12]]);
  s.decide({ findingId: painted.findingIds[0], reviewer: 'dr.a', decision: 'rejected' });
  const strokes = new Uint8Array(maskOf([[14, 20, 4], [34, 20, 4]]));
  s.add({ imageId: painted.imageId, reviewer: 'dr.a', box: [10, 16, 39, 25], mask: rleEncode(strokes, W, H) });
  s.close();

  pendingStore = join(root, 'pending.sqlite');
  const p = openStore(pendingStore);
  const r = p.beginRun({ model: 'kvasir-cbam', backend: 'wasm' });
  p.recordImageFindings(r, { path: imagePath('unreviewed'), contentHash: 'a'.repeat(64), width: W, height: H }, [{ box: [4, 4, 20, 20], score: 0.8, area: 100 }]);
  p.recordImageFindings(r, { path: imagePath('half'), contentHash: 'b'.repeat(64), width: W, height: H }, []);
  p.close();
});

test('a masks folder is counted by its masks: lesion images, lesions (regions of 10 px or more), and lesion-free images', async () => {
  const plan = await planTraining({ data: mixed, format: 'masks', seed: 42 });
  assert.deepEqual({ images: plan.images, lesionImages: plan.lesionImages, lesions: plan.lesions, negatives: plan.negatives }, { images: 15, lesionImages: 11, lesions: 12, negatives: 4 });
  assert.equal(plan.groups, 15, 'with no groups, each image is split on its own');
  assert.equal(plan.waiting, undefined, 'only a review store holds images back');
  assert.deepEqual(plan.problems, []);
  for (const key of ['images', 'lesionImages', 'lesions', 'negatives'] as const) {
    assert.equal(plan.split.train[key] + plan.split.val[key] + plan.split.test[key], plan[key], `the parts add up to the whole (${key})`);
  }
});

test("the plan's split is the trainer's: the same samples, split by the same seeded rule", async () => {
  const dataset = await openDataset(mixed, 'masks');
  for (const limit of [undefined, 9]) {
    const plan = await planTraining({ data: mixed, format: 'masks', seed: 7, limit });
    const ids = runSampleIds(dataset.samples, { seed: 7, limit });
    const split = splitSamples(dataset.samples.filter((s) => ids.includes(s.id)), 7);
    assert.equal(plan.images, ids.length);
    assert.deepEqual([plan.split.train.images, plan.split.val.images, plan.split.test.images], [split.train.length, split.val.length, split.test.length], `limit ${limit}`);
  }
  assert.equal((await planTraining({ data: mixed, format: 'masks', seed: 7, limit: 9 })).images, 9);
});

test('a set with no lesion image cannot train, and says why', async () => {
  const plan = await planTraining({ data: allEmpty, format: 'masks', seed: 42 });
  assert.deepEqual([plan.lesionImages, plan.negatives], [0, 16]);
  assert.equal(plan.problems.length, 1);
  assert.match(plan.problems[0], /no image in the set has a lesion \(16 lesion-free\)/);
  assert.throws(
    () => refuseUntrainable(plan),
    (err: StudioError) => err.code === 'INVALID_PAYLOAD' && /cannot train: no image in the set has a lesion/.test(err.message),
  );
});

test('a handful of images cannot train: too few to train on, none held out for validation', async () => {
  const plan = await planTraining({ data: tiny, format: 'masks', seed: 42 });
  assert.equal(plan.images, 3);
  assert.ok(plan.problems.some((p) => p.includes(`a run needs at least ${MIN_TRAINING_IMAGES}`)), plan.problems.join('\n'));
  assert.ok(plan.problems.some((p) => /validation part is empty/.test(p)), plan.problems.join('\n'));
});

test('a review store counts fully reviewed images only, and says how many wait for a reader', async () => {
  const plan = await planTraining({ data: store, format: 'review', seed: 42 });
  assert.deepEqual(plan.waiting, { unreviewed: 1, halfReviewed: 1 });
  // complete: one accepted box; rejected: a negative; painted: one mask with two separate strokes.
  assert.deepEqual({ images: plan.images, lesionImages: plan.lesionImages, lesions: plan.lesions, negatives: plan.negatives }, { images: 3, lesionImages: 2, lesions: 3, negatives: 1 });
  assert.ok(plan.problems.some((p) => p.includes(`a run needs at least ${MIN_TRAINING_IMAGES}`)), 'three reviewed images are too few');
  assert.ok(!plan.problems.some((p) => /nothing in the review store/.test(p)));
});

test('a review dataset comes from the reading it is given, so its counts and samples agree when a reader decides in between', async () => {
  const copy = join(root, 'deciding.sqlite');
  copyFileSync(store, copy);
  const read = reviewedDataset(copy);
  // A reader finishes the half-reviewed image after the reading.
  const s = openStore(copy);
  const half = s.review().rows.find((r) => r.image.path.endsWith('half.png') && r.decisions.length === 0);
  assert.ok(half, 'the half-reviewed image has an undecided finding');
  s.decide({ findingId: half.finding.id, reviewer: 'dr.a', decision: 'rejected' });
  s.close();
  const fromRead = await openDataset(copy, 'review', { reviewed: read });
  const fresh = await openDataset(copy, 'review');
  assert.equal(fromRead.samples.length, read.items.filter((i) => i.label !== null).length);
  assert.equal(fromRead.samples.length, 3);
  assert.equal(fresh.samples.length, 4, 'a new reading sees the decision');
});

test('a review store with nothing fully reviewed is a plan with that problem, not an error', async () => {
  const plan = await planTraining({ data: pendingStore, format: 'review', seed: 42, negatives: [join(mixed, 'negatives')] });
  assert.deepEqual(plan.waiting, { unreviewed: 2, halfReviewed: 0 });
  assert.equal(plan.images, 3, 'the lesion-free folder is still counted');
  assert.match(plan.problems[0], /nothing in the review store is fully reviewed yet: 2 images unreviewed and 0 half-reviewed wait for a reader \(only .* count\)/);
});

test('lesions are counted by the components rule the viewer and evaluation use (8-connected, 10 px or more)', () => {
  let seed = 3;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 200; trial++) {
    const [w, h] = [5 + Math.floor(rand() * 40), 5 + Math.floor(rand() * 40)];
    const fill = rand() * 0.6;
    const data = Uint8Array.from({ length: w * h }, () => (rand() < fill ? 255 : 0));
    for (const minArea of [1, 10]) assert.equal(countRegions(data, w, h, 128, minArea), lesionCandidates(data, w, h, 128, minArea).length, `trial ${trial} ${w}x${h} min ${minArea}`);
  }
});
