/**
 * Lesion-free images in a dataset: split apart from the lesion images so every part holds both, near-
 * duplicate frames kept in one part, a stored split completed for images added later; and the image-level
 * figures evaluation reports from them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeSplit, splitDataset, splitSamples } from '../../main/datasets/index.ts';
import { auroc } from '../../main/evaluation/metrics.ts';
import { imageLevel } from '../../main/evaluation/evaluate.ts';

const positives = Array.from({ length: 40 }, (_, i) => ({ id: `p${i}.jpg` }));
const negatives = Array.from({ length: 30 }, (_, i) => ({ id: `normal/n${i}.jpg`, negative: true, group: `g${Math.floor(i / 3)}` }));

test('a dataset without negatives or groups splits exactly as before, so stored and recomputed splits agree', () => {
  assert.deepEqual(splitSamples(positives, 42), splitDataset(positives.map((p) => p.id), 42));
});

test('lesion-free images are split apart, in proportion, and near-duplicate frames never straddle two parts', () => {
  const split = splitSamples([...positives, ...negatives], 42);
  const all = [...split.train, ...split.val, ...split.test];
  assert.equal(new Set(all).size, 70, 'every sample in exactly one part');
  const negIn = (part: string[]) => part.filter((id) => id.startsWith('normal/')).length;
  assert.ok(negIn(split.train) >= 18 && negIn(split.train) <= 24, `train holds ${negIn(split.train)} of 30 negatives`);
  assert.ok(negIn(split.test) >= 3, 'the test part has its share of negatives');
  const partOf = new Map(all.map((id) => [id, split.train.includes(id) ? 'train' : split.val.includes(id) ? 'val' : 'test']));
  for (let g = 0; g < 10; g++) {
    const parts = new Set(negatives.filter((n) => n.group === `g${g}`).map((n) => partOf.get(n.id)));
    assert.equal(parts.size, 1, `group g${g} lies in one part`);
  }
  // the positives' split is untouched by adding negatives
  const alone = splitSamples(positives, 42);
  assert.deepEqual(split.test.filter((id) => !id.startsWith('normal/')), alone.test);
});

test('a stored split is completed for images it does not name, and left as it is otherwise', () => {
  const stored = splitDataset(positives.map((p) => p.id), 7);
  assert.equal(completeSplit(stored, positives), stored);
  const done = completeSplit(stored, [...positives, ...negatives]);
  assert.deepEqual(done.train.slice(0, stored.train.length), stored.train);
  assert.equal(done.train.length + done.val.length + done.test.length, 70);
  assert.deepEqual(completeSplit(stored, [...positives, ...negatives]), done, 'the same every time');
});

test('AUROC is the chance a lesion image outscores a lesion-free one, ties counting half', () => {
  assert.equal(auroc([0.9, 0.8], [0.1, 0.2]), 1);
  assert.equal(auroc([0.1], [0.9]), 0);
  assert.equal(auroc([0.5], [0.5]), 0.5);
  assert.equal(auroc([0.9, 0.3], [0.5, 0.1]), 0.75);
  assert.equal(auroc([], [0.1]), null);
});

test('image-level figures: findings per lesion-free image, the share with any, sensitivity and specificity of any finding', () => {
  const scores = [
    { lesions: 1, findings: 2 },
    { lesions: 2, findings: 0 },
    { lesions: 0, findings: 0 },
    { lesions: 0, findings: 3 },
    { lesions: 0, findings: 0 },
    { lesions: 0, findings: 1 },
  ];
  const r = imageLevel(scores, [0.9, 0.4, 0.1, 0.95, 0.2, 0.6], scores.map((s) => s.lesions > 0));
  assert.equal(r.negatives, 4);
  assert.equal(r.fpPerNegativeImage, 1);
  assert.equal(r.negativesWithFindings, 0.5);
  assert.equal(r.imageSpecificity, 0.5);
  assert.equal(r.imageSensitivity, 0.5);
  assert.equal(r.imageAUROC, auroc([0.9, 0.4], [0.1, 0.95, 0.2, 0.6]));
  const none = imageLevel([{ lesions: 1, findings: 1 }], [0.8], [true]);
  assert.deepEqual([none.negatives, none.fpPerNegativeImage, none.imageSpecificity, none.imageAUROC], [0, null, null, null]);
});

test('a limit keeps the lesion-free images in their share, and is a plain prefix without them', async () => {
  const { limitKeepingShare } = await import('../../main/evaluation/evaluate.ts');
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'n1', 'n2', 'n3', 'n4'];
  const neg = new Set(['n1', 'n2', 'n3', 'n4']);
  assert.deepEqual(limitKeepingShare(ids, 5, neg), ['a', 'b', 'c', 'n1', 'n2']);
  assert.deepEqual(limitKeepingShare(ids, 5, new Set()), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(limitKeepingShare(ids, 20, neg), ids);
});

test('a stored split completed for new frames puts each near-duplicate of a placed frame in that frame\'s part', () => {
  const old = [{ id: 'a.jpg', group: 'g1' }, { id: 'b.jpg', group: 'g2' }, { id: 'c.jpg', group: 'g3' }];
  const stored = { seed: 1, ratios: [0.34, 0.33, 0.33] as [number, number, number], train: ['a.jpg'], val: ['b.jpg'], test: ['c.jpg'] };
  const grown = [...old, { id: 'a2.jpg', group: 'g1' }, { id: 'c2.jpg', group: 'g3' }, { id: 'new.jpg', group: 'g9' }];
  const done = completeSplit(stored, grown);
  assert.ok(done.train.includes('a2.jpg'), 'a frame like a trained one is trained-on too, never test');
  assert.ok(done.test.includes('c2.jpg'));
  assert.equal([...done.train, ...done.val, ...done.test].filter((id) => id === 'new.jpg').length, 1);
});

test('a training limit takes whole groups of near-duplicate frames, and the same ids as before where there are no groups', async () => {
  const { limitSamples, rng, shuffle } = await import('../../main/datasets/index.ts');
  assert.deepEqual(limitSamples(positives, 10, 5), shuffle(positives.map((p) => p.id).sort(), rng(5)).slice(0, 10));
  const picked = new Set(limitSamples(negatives, 7, 5));
  for (let g = 0; g < 10; g++) {
    const members = negatives.filter((n) => n.group === `g${g}`).map((n) => n.id);
    assert.ok(members.every((m) => picked.has(m)) || members.every((m) => !picked.has(m)), `group g${g} taken whole or not at all`);
  }
  assert.ok(picked.size >= 7 && picked.size <= 9);
});
