/** The training and FROC charts' axes: round y ticks and x labels that do not pile up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearTicks, niceCeil } from '../../renderer/src/training/LineChart.tsx';

test('the y axis tops out at a round number whose quarters are round too', () => {
  // 3.96 had given ticks 0.99, 1.98, 2.97, 3.96.
  assert.equal(niceCeil(3.96), 4);
  assert.equal(niceCeil(1.05), 1.2);
  assert.ok(Math.abs(niceCeil(0.0131) - 0.016) < 1e-12);
  assert.equal(niceCeil(8), 8);
  assert.equal(niceCeil(8.01), 10);
  for (const v of [0.3, 1.7, 2.2, 5.5, 47, 930]) {
    const top = niceCeil(v);
    assert.ok(top >= v && top < 1.5 * v, `${v} → ${top}`);
    const quarter = top / 4;
    const digits = quarter / 10 ** Math.floor(Math.log10(quarter));
    assert.ok([1, 1.5, 2, 2.5, 3, 4, 5, 6, 8].some((d) => Math.abs(d - digits) < 1e-9), `${v}: quarter ${quarter}`);
  }
});

test('x labels are whole epochs when a per-step curve spans several, at most ten of them', () => {
  const steps = Array.from({ length: 70 }, (_, i) => (i + 1) / 7);
  assert.deepEqual(linearTicks(steps), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(linearTicks(Array.from({ length: 300 }, (_, i) => i / 10)), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
  assert.deepEqual(linearTicks([0.25, 0.5, 0.75, 1]), [0.25, 0.5, 0.75, 1]);
});
