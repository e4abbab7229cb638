import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judge } from '../../main/training/adapt.ts';
import type { FullReport } from '../../main/evaluation/evaluate.ts';

const report = (dice: number, sensitivity1FP: number, lesions = 40) => ({ dice, sensitivity1FP, lesions, fpPerNegativeImage: null, negatives: 0 }) as unknown as FullReport;

test('an adapted model is better on the site only with higher Dice, no lost sensitivity and no louder on lesion-free images', () => {
  const forgot = (base: number, adapted: number) => ({ images: 120, base, adapted });
  assert.equal(judge('b', report(0.7, 0.9), report(0.8, 0.9), forgot(0.05, 0.05)).better, true);
  // One lesion's worth of sensitivity (1/40) is noise on a site's test set; two are not.
  assert.equal(judge('b', report(0.7, 0.9), report(0.8, 0.9 - 1 / 40), forgot(0.05, 0.05)).better, true);
  assert.equal(judge('b', report(0.7, 0.9), report(0.8, 0.9 - 2 / 40), forgot(0.05, 0.05)).better, false);
  assert.equal(judge('b', report(0.8, 0.9), report(0.79, 0.95), forgot(0.05, 0.05)).better, false, 'lower Dice');
  // Louder than the base but within the budget both are calibrated to (0.1 per image): not held against it.
  assert.equal(judge('b', report(0.7, 0.9), report(0.8, 0.9), forgot(0.067, 0.1)).better, true);
  // Over the budget and louder than the base by more than one finding in 120: it forgot "nothing here".
  const louder = judge('b', report(0.7, 0.9), report(0.8, 0.9), forgot(0.067, 0.15));
  assert.equal(louder.better, false);
  assert.match(louder.text, /findings per held-out lesion-free image of b 0\.067 → 0\.150.*keep using b/);
});
