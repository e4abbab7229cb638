/** Compare's list of where models differ, image by image. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparability } from '../../preload/comparability.ts';
import { differences, differs } from '../../renderer/src/compare/differences.ts';
import type { ImageScore } from '../../preload/contract.ts';

const s = (id: string, dice: number, found = 1, falsePositives = 0, pointed = 1, lesions = 1): ImageScore => ({ id, dice, lesions, found, falsePositives, pointed });

const a = { model: 'a', perImage: [s('x', 0.9), s('y', 0.8, 1, 0, 1), s('z', 0.5, 0, 2, 0), s('only-a', 0.1)] };
const b = { model: 'b', perImage: [s('z', 0.55, 1, 0, 1), s('y', 0.2, 1, 0, 1), s('x', 0.88, 1, 1, 1)] };

test('images are ordered by how far apart the models are, and only images every model scored are listed', () => {
  const rows = differences([a, b], 'dice')!;
  assert.deepEqual(rows.map((r) => r.id), ['y', 'z', 'x']);
  assert.ok(Math.abs(rows[0].diceSpread - 0.6) < 1e-12);
  assert.deepEqual(rows[0].scores.map((x) => x.dice), [0.8, 0.2], 'scores in the reports order');
});

test('ordering by lesions found puts a missed lesion first, then extra false positives; by pointing, disagreements first', () => {
  assert.deepEqual(differences([a, b], 'found')!.map((r) => r.id), ['z', 'x', 'y']);
  assert.deepEqual(differences([a, b], 'pointed')!.map((r) => r.id), ['z', 'y', 'x']);
  const rows = differences([a, b], 'found')!;
  assert.deepEqual(rows.map((r) => differs(r, 'found')), [true, true, false]);
  assert.deepEqual(differences([a, b], 'dice')!.map((r) => differs(r, 'dice')), [true, false, false]);
});

test('a maximum touching two lesions is not a pointing disagreement, and lesion counts at different input sizes are shown as a range', () => {
  const c = { model: 'c', perImage: [s('two', 0.7, 2, 0, 2, 2)] };
  const d = { model: 'd', perImage: [s('two', 0.7, 1, 0, 1, 1)] };
  const [row] = differences([c, d], 'pointed')!;
  assert.equal(row.pointingDiffers, false);
  assert.deepEqual(row.lesions, { min: 1, max: 2 });
});

test('no list for a single report or for a report without per-image scores (older reports)', () => {
  assert.equal(differences([a], 'dice'), null);
  assert.equal(differences([a, { model: 'old' }], 'dice'), null);
});

test('reports rank against each other only on the same images, each held out from its own model', () => {
  const r = (model: string, imageSet: string, splitSource = 'model split.json') => ({ model, images: 10, imageSet, splitSource });
  assert.deepEqual(comparability([r('a', 's'), r('b', 's')]), { sameImages: true, notHeldOut: [], rankable: true });
  assert.deepEqual(comparability([r('a', 's'), r('b', 't')]), { sameImages: false, notHeldOut: [], rankable: false });
  assert.deepEqual(comparability([r('a', 's'), r('b', 's', 'recomputed with the model seed')]), { sameImages: true, notHeldOut: ['b'], rankable: false });
  // Reports from before either field: judged by their image count, and taken as held out.
  assert.deepEqual(comparability([{ model: 'a', images: 10 }, { model: 'b', images: 10 }]), { sameImages: true, notHeldOut: [], rankable: true });
});
