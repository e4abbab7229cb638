/**
 * The appearance score's arithmetic (main/detector/appearance.ts): pooling over the image's cells only,
 * the Ledoit–Wolf shrunk inverse, the score's scale (about 1 on training-like images, far above on others),
 * and the statistics file, which a damaged copy must not silently turn off.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { APPEARANCE_FILE, AppearanceCache, appearanceScore, fitAppearance, invertSPD, ledoitWolf, meanOfViews, pooledViews, readAppearance, writeAppearance } from '../../main/detector/appearance.ts';
import { mirroredBatch, unmirroredViews } from '../../main/detector/flips.ts';
import { isUnfamiliar, unfamiliar } from '../../preload/fit.ts';
import { StudioError } from '../../preload/contract.ts';
import { rng } from '../../main/datasets/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'appearance-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Standard normal draws from a seeded generator (Box–Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Pooled "features" whose logs are correlated Gaussians: what the fit assumes, with a known structure. */
function sample(random: () => number, D: number, shift = 0): Float32Array {
  const common = normal(random);
  return Float32Array.from({ length: D }, (_, k) => Math.exp(0.5 * common + 0.3 * normal(random) + (k < 4 ? shift : 0) - 1));
}

test('invertSPD inverts a symmetric positive-definite matrix (A·A⁻¹ = I within 1e-9)', () => {
  const random = rng(1);
  const D = 12;
  const B = Array.from({ length: D * D }, () => normal(random));
  const A = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) {
    let s = i === j ? 0.5 : 0;
    for (let k = 0; k < D; k++) s += B[i * D + k] * B[j * D + k];
    A[i * D + j] = s;
  }
  const inv = invertSPD(A, D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) {
    let s = 0;
    for (let k = 0; k < D; k++) s += A[i * D + k] * inv[k * D + j];
    assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-9, `(${i},${j}) = ${s}`);
  }
  assert.throws(() => invertSPD([1, 2, 2, 1], 2), /not positive definite/);
});

test('Ledoit–Wolf shrinks hard when there are fewer images than features, little when there are many, and the covariance stays invertible', () => {
  const random = rng(2);
  // Correlated features (a shared factor), so the identity target is wrong and only scarce data should pull toward it.
  const draw = () => {
    const common = normal(random);
    return Float64Array.from({ length: 40 }, () => 0.8 * common + 0.6 * normal(random));
  };
  const few = Array.from({ length: 10 }, draw);
  const many = Array.from({ length: 4000 }, draw);
  const a = ledoitWolf(few);
  const b = ledoitWolf(many);
  assert.ok(a.shrinkage > 0.15, `few images: shrinkage ${a.shrinkage}`);
  assert.ok(b.shrinkage >= 0 && b.shrinkage < a.shrinkage / 3, `many images: shrinkage ${b.shrinkage}`);
  // 10 images span at most 9 directions of 40: without shrinkage the inverse would not exist.
  assert.doesNotThrow(() => invertSPD(a.covariance, 40));
});

test('training-like images score about 1 and images shifted in a few features score far above', () => {
  const random = rng(3);
  const D = 24;
  const stats = fitAppearance(Array.from({ length: 600 }, () => sample(random, D)));
  const like = Array.from({ length: 300 }, () => appearanceScore(stats, sample(random, D))).sort((x, y) => x - y);
  const unlike = Array.from({ length: 300 }, () => appearanceScore(stats, sample(random, D, 1.5))).sort((x, y) => x - y);
  const median = like[150];
  assert.ok(median > 0.8 && median < 1.2, `median of training-like scores ${median}`);
  assert.ok(unlike[15] > like[297], `the 5th percentile of shifted scores (${unlike[15]}) lies above the 99th of training-like ones (${like[297]})`);
  assert.throws(() => appearanceScore(stats, new Float32Array(D - 1)), /for 24 features/);
});

test('a channel that never fired in training does not make its first flicker a new kind of image', () => {
  const random = rng(5);
  // Feature 0 is dead in every training image; the others vary as usual.
  const train = Array.from({ length: 400 }, () => {
    const v = sample(random, 12);
    v[0] = 0;
    return v;
  });
  const stats = fitAppearance(train, [6, 6]);
  const typical = sample(random, 12);
  typical[0] = 0;
  const flicker = Float32Array.from(typical);
  flicker[0] = 1e-4;
  const base = appearanceScore(stats, typical);
  assert.ok(Math.abs(appearanceScore(stats, flicker) - base) < 0.05, `score ${base} → ${appearanceScore(stats, flicker)} for a 1e-4 flicker`);
  // A dead channel that fires at the layer's typical strength still counts.
  const fires = Float32Array.from(typical);
  fires[0] = 0.4;
  assert.ok(appearanceScore(stats, fires) > base + 0.5, `score ${base} → ${appearanceScore(stats, fires)} when it fires`);
});

test('pooling reads the image\'s cells only: the letterbox padding never moves the features', () => {
  // A 16×16 input, features at stride 8 (2×2 cells) with 2 channels; the image covers the top row only.
  const outputs = [{ name: 'lesion', kind: 'lesion' as const }, { name: 'stage3/out', kind: 'features' as const }];
  const image = (pad: number) => ({
    data: [new Float32Array(16), Float32Array.from([1, 10, 3, 30, pad, pad, pad, pad])],
    dims: [[1, 4, 4, 1], [1, 2, 2, 2]],
  });
  const box = { width: 16, height: 5 };
  const [a] = pooledViews(outputs, image(0), box, 16)!;
  const [b] = pooledViews(outputs, image(99), box, 16)!;
  assert.deepEqual([...a], [2, 20]);
  assert.deepEqual([...a], [...b]);
  assert.equal(pooledViews([outputs[0]], { data: [new Float32Array(16)], dims: [[1, 4, 4, 1]] }, box, 16), undefined);
});

test('mirrored views pool over the image\'s own cells once mapped back, and a flip set\'s features are the mean of its first views', () => {
  // A 2×2 map of 1 channel with the image in the left column: each mirror view, mapped back, pools the same cells.
  const map = Float32Array.from([1, 100, 3, 100]);
  const views = mirroredBatch(map, 2, 2, 1, 'hv');
  const back = unmirroredViews(views, [4, 2, 2, 1], 'hv');
  const pooled = pooledViews([{ name: 'f', kind: 'features' }], { data: [back], dims: [[4, 2, 2, 1]] }, { width: 4, height: 8 }, 8)!;
  assert.equal(pooled.length, 4);
  for (const v of pooled) assert.deepEqual([...v], [2]);
  assert.deepEqual([...meanOfViews([Float32Array.of(1), Float32Array.of(3), Float32Array.of(100)], 2)], [2]);
  // The fit reads none's and h's features off an hv batch: their views must be its first ones, in order.
  const image = Float32Array.from({ length: 12 }, (_, i) => i);
  assert.deepEqual([...mirroredBatch(image, 2, 2, 3, 'hv').subarray(0, 24)], [...mirroredBatch(image, 2, 2, 3, 'h')]);
  assert.deepEqual([...mirroredBatch(image, 2, 2, 3, 'hv').subarray(0, 12)], [...image]);
  assert.throws(() => meanOfViews([Float32Array.of(1)], 2), /cannot average 2 of 1 views/);
});

test('the statistics file round-trips per flip set; a damaged one is a clear error, and no threshold in the card means no score', () => {
  const random = rng(4);
  const stats = fitAppearance(Array.from({ length: 50 }, () => sample(random, 6)));
  const stamp = '2026-12-06T12:00:00.000Z';
  writeAppearance(tmp, [{ name: 'x', channels: 6 }], { none: stats }, stamp);
  const back = readAppearance(tmp, 'none', { threshold: 1.5, fittedAt: stamp })!;
  assert.equal(back.threshold, 1.5);
  const v = sample(random, 6);
  assert.ok(Math.abs(appearanceScore(back, v) - appearanceScore(stats, v)) < 1e-4);
  assert.equal(readAppearance(tmp, 'hv', { threshold: 1.5 }), undefined, 'no statistics for these flips');
  assert.equal(readAppearance(tmp, 'none', undefined), undefined);
  assert.equal(readAppearance(join(tmp, 'nowhere'), 'none', { threshold: 1.5 }), undefined);

  const cache = new AppearanceCache();
  assert.equal(cache.get(tmp, 'none', { threshold: 2, fittedAt: stamp })?.threshold, 2);
  assert.equal(cache.get(tmp, 'none', { threshold: 3, fittedAt: stamp })?.threshold, 3, 'a recalibrated threshold applies at once');

  writeFileSync(join(tmp, APPEARANCE_FILE), '{"version":3,"layers":[{"name":"x","channels":6}],"byFlips":{"none":{"offset":[1],"mean":[1],"std":[1],"precision":""}}}');
  assert.throws(() => readAppearance(tmp, 'none', { threshold: 1.5 }), (err: unknown) => err instanceof StudioError && err.code === 'MODEL_LOAD_FAILED' && /appearance\.json: the none statistics do not match the 6 features/.test(err.message));
  writeFileSync(join(tmp, APPEARANCE_FILE), '{"version":3,"layers":[{"name":"x","channels":1}],"byFlips":{"none":{"offset":[1],"mean":[1],"std":[1],"precision":"AADAfw=="}}}');
  assert.throws(() => readAppearance(tmp, 'none', { threshold: 1.5 }), /a value that is not a number/, 'a NaN in the inverse would score every image NaN, turning the guard off');
  writeFileSync(join(tmp, APPEARANCE_FILE), 'not json');
  assert.throws(() => readAppearance(tmp, 'none', { threshold: 1.5 }), /appearance\.json/);
});

test('statistics from one fit are never read against the thresholds of another: a refit caught between its two writes is an error until the card catches up', () => {
  const random = rng(5);
  const fit = () => fitAppearance(Array.from({ length: 50 }, () => sample(random, 6)));
  const dir = join(tmp, 'refit');
  mkdirSync(dir, { recursive: true });
  const old = '2026-12-01T00:00:00.000Z';
  const fresh = '2026-12-06T00:00:00.000Z';
  writeAppearance(dir, [{ name: 'x', channels: 6 }], { none: fit() }, old);
  const cache = new AppearanceCache();
  assert.ok(cache.get(dir, 'none', { threshold: 1.5, fittedAt: old }));
  // The refit wrote its statistics; the card still holds the old fit's thresholds.
  writeAppearance(dir, [{ name: 'x', channels: 6 }], { none: fit() }, fresh);
  const apart = /fitted at 2026-12-06T00:00:00\.000Z but the card's thresholds at 2026-12-01T00:00:00\.000Z/;
  assert.throws(() => readAppearance(dir, 'none', { threshold: 1.5, fittedAt: old }), apart);
  assert.throws(() => cache.get(dir, 'none', { threshold: 1.5, fittedAt: old }), apart);
  // The card written: both agree again, and the cache serves the new statistics.
  assert.equal(cache.get(dir, 'none', { threshold: 1.7, fittedAt: fresh })?.fittedAt, fresh);
  // A file written before stamps existed pairs with any card.
  writeFileSync(join(dir, APPEARANCE_FILE), readFileSync(join(dir, APPEARANCE_FILE), 'utf8').replace(`"fittedAt":"${fresh}",`, ''));
  assert.equal(readAppearance(dir, 'none', { threshold: 1.5, fittedAt: old })?.fittedAt, undefined);
});

test('the warning names the model, what it is for and the score against its threshold; at or under it there is none', () => {
  const use = { images: 'breast ultrasound images', colour: 'grey' as const, modalities: ['US'] };
  assert.equal(
    unfamiliar('busi-cbam', use, { score: 3.24, threshold: 1.43 }),
    'busi-cbam, a model for breast ultrasound images, has not seen images like this one: its appearance score is 3.24, above the 1.43 its own held-out images stay under, so its findings here mean little',
  );
  assert.equal(unfamiliar('busi-cbam', use, { score: 1.43, threshold: 1.43 }), undefined);
  assert.equal(unfamiliar('busi-cbam', use, undefined), undefined);
  assert.match(unfamiliar('busi-cbam', use, { score: 1.431, threshold: 1.427 }) ?? '', /score is 1\.431, above the 1\.427/, 'never "1.43, above the 1.43"');
  assert.match(unfamiliar('busi-cbam', use, { score: NaN, threshold: 1.43 }) ?? '', /could not score/);
  // The one rule the warning, the viewer's chip and evaluation's unfamiliar share read.
  assert.deepEqual([isUnfamiliar({ score: 1.43, threshold: 1.43 }), isUnfamiliar({ score: 1.431, threshold: 1.43 }), isUnfamiliar({ score: NaN, threshold: 1.43 })], [false, true, true]);
});

test('every shipped model\'s statistics carry the stamp of the fit its card calibrated, so the pairing guard is live for them', async () => {
  const { listModels } = await import('../../main/detector/io.ts');
  const shipped = listModels('models').filter((m) => m.card.appearance);
  assert.ok(shipped.length >= 9);
  for (const m of shipped) {
    const file = JSON.parse(readFileSync(join('models', m.name, APPEARANCE_FILE), 'utf8')) as { fittedAt?: string };
    assert.equal(file.fittedAt, m.card.appearance?.fittedAt, m.name);
  }
});
