/**
 * What a fine-tune's card and checkpoint say about where it came from: the base models' training read
 * down the chain (loops and unreadable cards end it with `unknown`, never a crash), and a checkpoint's
 * differing settings named, with checkpoints from before attention supervision read as unsupervised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseTraining, differingSettings } from '../../main/training/trainer.ts';

const root = mkdtempSync(join(tmpdir(), 'studio-lineage-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function card(name: string, hyperparameters: Record<string, unknown>, epochs = 5): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'card.json'), JSON.stringify({ name, variant: 'cbam', inputSize: 64, training: { epochs, seconds: epochs * 10 }, hyperparameters: { learningRate: 1e-3, ...hyperparameters } }));
  return dir;
}

test("a fine-tune's lineage reads each base model's training down the chain", () => {
  const a = card('a', {}, 26);
  const b = card('b', { base: a, augmentationPreset: 'strong' }, 10);
  const c = card('c', { base: b, attentionSupervision: { layer: 'stage4/cbam_spatial', weight: 0.5 } }, 20);
  const story = baseTraining(c);
  assert.equal(story.name, 'c');
  assert.deepEqual(story.attentionSupervision, { layer: 'stage4/cbam_spatial', weight: 0.5 });
  const mid = story.baseTraining as Record<string, unknown>;
  assert.equal(mid.name, 'b');
  assert.equal(mid.epochs, 10);
  assert.equal(mid.augmentation, 'strong', "a base's augmentation preset is part of its story");
  assert.equal(story.augmentation, undefined, 'a card from before presets names none');
  assert.equal((mid.baseTraining as Record<string, unknown>).name, 'a');
  assert.equal((mid.baseTraining as Record<string, unknown>).epochs, 26);
});

test('a lineage that loops, or reaches an unreadable card, ends in unknown instead of failing the run', () => {
  const x = join(root, 'x');
  const y = join(root, 'y');
  card('x', { base: y });
  card('y', { base: x });
  const looped = baseTraining(x);
  assert.match(String(((looped.baseTraining as Record<string, unknown>).baseTraining as Record<string, unknown>).unknown), /lineage cut/);
  mkdirSync(join(root, 'broken'));
  writeFileSync(join(root, 'broken', 'card.json'), '{ not json');
  assert.match(String(baseTraining(join(root, 'broken')).unknown), /broken/);
});

test('a checkpoint names the settings it differs in, and one from before attention supervision resumes unsupervised', () => {
  const now = { name: 'm', data: '/d', format: 'masks' as const, variant: 'cbam' as const, batchSize: 8, inputSize: 192, learningRate: 1e-3, seed: 42, attentionWeight: 0.5 };
  assert.deepEqual(differingSettings(now, now), []);
  assert.deepEqual(differingSettings({ ...now, learningRate: 2e-3, seed: 1 }, now), ['learningRate', 'seed']);
  const { attentionWeight: _w, ...before } = now;
  assert.deepEqual(differingSettings(before, now), ['attentionWeight'], 'an old checkpoint was unsupervised: resuming it supervised is a different run');
  assert.deepEqual(differingSettings(before, { ...now, attentionWeight: 0 }), []);
  // A checkpoint from before augmentation presets used the standard one.
  assert.deepEqual(differingSettings(now, { ...now, augmentation: 'standard' }), []);
  assert.deepEqual(differingSettings(now, { ...now, augmentation: 'strong' }), ['augmentation']);
});
