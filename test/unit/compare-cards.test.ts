/**
 * The Compare view's model-card summary: test metrics as recorded, epochs and seconds summed down the
 * chain of base models, the attention supervision named, and a malformed card shown as unknowns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summariseCard } from '../../renderer/src/compare/cards.ts';
import { PROJECT_ROOT } from '../../main/settings.ts';

test('a fine-tuned card counts its base models in its epochs and training time and names its supervision', () => {
  const card = {
    backend: 'wasm',
    data: { path: '../shared/data/busi' },
    training: { epochs: 25, seconds: 1500 },
    hyperparameters: {
      attentionSupervision: { layer: 'stage4/cbam_spatial', weight: 0.5 },
      baseTraining: { name: 'a', epochs: 10, seconds: 300, baseTraining: { name: 'b', epochs: 26, seconds: 4500 } },
    },
    metrics: { test: { images: 98, dice: 0.7, sensitivity1FP: 0.9, ap50: 0.6, pointingGame: 0.88, pointingGameImages: 0.9, pointingSource: 'attention stage4/cbam_spatial' } },
  };
  const s = summariseCard('cbam', card);
  assert.equal(s.epochs, 61);
  assert.equal(s.seconds, 6300);
  assert.equal(s.complete, true);
  // A base named without its own record (older cards): the totals are lower bounds, and say so.
  const older = summariseCard('cbam', { ...card, hyperparameters: { base: 'models/x', baseTraining: { name: 'x', epochs: 10, seconds: 300, base: 'models/y' } } });
  assert.equal(older.complete, false);
  assert.equal(summariseCard('cbam', { ...card, hyperparameters: { base: 'models/x', baseTraining: { unknown: 'gone' } } }).complete, false);
  assert.equal(summariseCard('cbam', { training: { epochs: 3, seconds: 9 } }).complete, true, 'trained from scratch');
  assert.equal(s.attention, 'supervised by the mask (stage4/cbam_spatial, weight 0.5)');
  assert.deepEqual(s.test, { images: 98, dice: 0.7, sensitivity1FP: 0.9, ap50: 0.6, pointingGame: 0.88, pointingGameImages: 0.9, pointingSource: 'attention stage4/cbam_spatial' });
  assert.equal(s.data, '../shared/data/busi');
  assert.equal(summariseCard('cbam', { ...card, hyperparameters: {} }).attention, 'unsupervised');
  assert.equal(summariseCard('baseline', card).attention, 'none', 'a baseline has no gate, whatever its card says');
  // Views: what the recorded test metrics averaged over, else the card's flips, else one.
  assert.equal(s.views, 1);
  assert.equal(summariseCard('cbam', { ...card, flips: 'h' }).views, 2);
  assert.equal(summariseCard('cbam', { ...card, flips: 'h', metrics: { test: { ...card.metrics.test, flips: 'hv' } } }).views, 4);
  assert.equal(summariseCard('cbam', { ...card, flips: 'sideways' }).views, 1);
});

test('a malformed card gives unknowns, not a crash or a wrong total', () => {
  for (const card of [{}, { training: 'x', metrics: [] }, { training: { epochs: 5 }, hyperparameters: { baseTraining: { epochs: 'ten' } } }, { metrics: { test: { dice: 'high' } } }]) {
    const s = summariseCard('cbam', card as Record<string, unknown>);
    assert.equal(s.test, undefined);
    assert.equal(s.epochs, undefined);
  }
});

test('every shipped model card has test metrics, a training time and its attention named', () => {
  const dir = join(PROJECT_ROOT, 'models');
  for (const name of readdirSync(dir)) {
    const card = JSON.parse(readFileSync(join(dir, name, 'card.json'), 'utf8'));
    const s = summariseCard(card.variant, card);
    assert.ok(s.test && s.test.images > 0 && Number.isFinite(s.test.dice) && Number.isFinite(s.test.pointingGame) && Number.isFinite(s.test.pointingGameImages), `${name}: test metrics`);
    assert.ok((s.epochs ?? 0) > 0 && (s.seconds ?? 0) > 0, `${name}: epochs ${s.epochs}, seconds ${s.seconds}`);
    const gated = card.variant === 'cbam' || card.variant === 'nonlocal';
    assert.equal(s.attention, !gated ? 'none' : card.hyperparameters?.attentionSupervision ? `supervised by the mask (${card.hyperparameters.attentionSupervision.layer}, weight ${card.hyperparameters.attentionSupervision.weight})` : 'unsupervised');
    assert.equal(s.backend, card.backend);
    // The recorded test metrics were measured with the flips the card runs now, not left over from before.
    assert.equal(card.metrics.test.flips, card.flips ?? 'none', `${name}: test metrics with flips ${card.metrics.test.flips}, card runs ${card.flips}`);
    assert.equal(s.views, card.flips === 'hv' ? 4 : card.flips === 'h' ? 2 : 1);
  }
});
