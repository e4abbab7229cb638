/**
 * The renderer's shared rules: per-image memory keeps the newest few, a keyed job's states, which map a
 * view draws (by the maps' own stage and supervised flags, not their names), and the window's labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionMap, DetectionResult, GradCamResult, Map2D } from '../../preload/contract.ts';
import { forget, remember } from '../../renderer/src/shared/recent.ts';
import { type Job, type Jobs, jobsReducer, latest } from '../../renderer/src/shared/jobs.ts';
import { chooseMap, spatialStages, supervisedGate } from '../../renderer/src/shared/maps.ts';
import { errorText } from '../../renderer/src/shared/errors.ts';
import { detectionKey, resultKey } from '../../renderer/src/hooks/useDetection.ts';
import { initialMode, presetLabel, presetsFor, voiLabel } from '../../renderer/src/viewer/presets.ts';
import { IDENTITY_8BIT } from '../../preload/windowing.ts';
import type { ImageSummary } from '../../preload/contract.ts';

const map = (v: number): Map2D => ({ width: 1, height: 1, data: new Float32Array([v]) });
const gate = (name: string, stage: number | 'decoder', supervised = false): AttentionMap => ({ name, kind: 'spatial', stage, supervised, map: map(stage === 'decoder' ? 8 : stage) });

function result(variant: DetectionResult['variant'], attention: AttentionMap[]): DetectionResult {
  return { imageId: 'i', frame: 0, model: 'm', variant, backend: 'cpu', ms: 1, passes: 1, heatmap: map(0.5), attention, findings: [], lesionScore: 0.5, threshold: 0.5 };
}

test('remember keeps the newest entries only, and a key stored again counts as the newest', () => {
  let r: Record<string, number> = {};
  for (const k of ['a', 'b', 'c']) r = remember(r, k, k.charCodeAt(0), 2);
  assert.deepEqual(Object.keys(r), ['b', 'c']);
  r = remember(r, 'b', 0, 2);
  r = remember(r, 'd', 1, 2);
  assert.deepEqual(r, { b: 0, d: 1 });
  assert.equal(forget(r, 'x'), r, 'forgetting a key it does not hold changes nothing');
  assert.deepEqual(forget(r, 'b'), { d: 1 });
});

test('a job runs, then holds its answer or its error, and a re-run keeps the last answer meanwhile', () => {
  const step = (s: Jobs<string>, a: Parameters<typeof jobsReducer<string>>[1]) => jobsReducer(s, a, 2);
  let s: Jobs<string> = {};
  s = step(s, { type: 'start', key: 'k' });
  assert.deepEqual(s.k, { state: 'running' });
  assert.equal(latest(s.k), undefined);
  s = step(s, { type: 'done', key: 'k', value: 'one' });
  assert.deepEqual(s.k, { state: 'done', value: 'one' });
  s = step(s, { type: 'start', key: 'k' });
  assert.deepEqual(s.k, { state: 'running', last: 'one' });
  s = step(s, { type: 'fail', key: 'k', error: 'lost' });
  assert.deepEqual(s.k, { state: 'error', error: 'lost', last: 'one' });
  assert.equal(latest(s.k), 'one');
  // Only the newest `keep` keys stay.
  s = step(step(s, { type: 'start', key: 'a' }), { type: 'start', key: 'b' });
  assert.deepEqual(Object.keys(s), ['a', 'b']);
  s = step(s, { type: 'forget', key: 'a' });
  assert.deepEqual(Object.keys(s), ['b']);
  assert.deepEqual(step(s, { type: 'clear' }), {});
});

test('a detection is keyed by image, frame, model and the averaging asked for; a Grad-CAM without it', () => {
  const t = { imageId: 'img', frame: 2, model: 'kvasir-cbam' };
  assert.equal(resultKey(t), 'img:2:kvasir-cbam');
  assert.equal(detectionKey(t), 'img:2:kvasir-cbam');
  assert.equal(detectionKey(t, 'card'), 'img:2:kvasir-cbam:card');
  assert.notEqual(detectionKey(t, 'none'), detectionKey(t, 'hv'));
});

test('the supervised gate is the map training supervised, else the spatial gate nearest the output', () => {
  const supervisedAtStage4 = result('cbam', [gate('stage3/cbam_spatial', 3), gate('stage4/cbam_spatial', 4, true), gate('decoder/cbam_spatial8', 'decoder')]);
  assert.equal(supervisedGate(supervisedAtStage4)?.name, 'stage4/cbam_spatial');
  const unsupervised = result('cbam', [gate('stage4/cbam_spatial', 4), gate('decoder/cbam_spatial8', 'decoder')]);
  assert.equal(supervisedGate(unsupervised)?.name, 'decoder/cbam_spatial8');
  const chosen = chooseMap('supervised', supervisedAtStage4, undefined);
  assert.ok(chosen && 'map' in chosen);
  assert.equal(chosen.label, 'Attention · stage4/cbam_spatial (supervised)');
  assert.deepEqual(spatialStages(supervisedAtStage4), [3, 4], 'the decoder gate is no numbered stage');
});

test('a stage is found by the map\'s stage, whatever its layer is called', () => {
  const r = result('cbam', [gate('renamed-early', 2), gate('renamed-late', 4)]);
  const chosen = chooseMap('stage:4', r, undefined);
  assert.ok(chosen && 'map' in chosen);
  assert.equal(chosen.label, 'Attention · renamed-late');
  assert.deepEqual(chooseMap('stage:3', r, undefined), { note: 'cbam: no spatial attention at stage 3' });
});

test('a variant without the chosen map says why instead of drawing another', () => {
  assert.deepEqual(chooseMap('supervised', result('baseline', []), undefined), { note: 'baseline: no attention module' });
  assert.deepEqual(chooseMap('stage:2', result('se', []), undefined), { note: 'se: channel attention only, no spatial map' });
  assert.deepEqual(chooseMap('nonlocal', result('cbam', [gate('stage4/cbam_spatial', 4)]), undefined), { note: 'cbam: no non-local attention' });
  assert.equal(chooseMap('heatmap', undefined, undefined), null, 'nothing to say before a run');
  assert.equal(chooseMap('none', result('cbam', []), undefined), null);
  // The viewer's choice by name: another model's result without that layer draws nothing.
  assert.equal(chooseMap('attention:stage4/nonlocal_attention', result('cbam', [gate('stage4/cbam_spatial', 4)]), undefined), null);
});

test('Grad-CAM is drawn from its latest answer, and otherwise says whether it is computing or failed', () => {
  const cam: GradCamResult = { imageId: 'i', frame: 0, model: 'm', layer: 'stage4/conv', map: map(1) };
  assert.deepEqual(chooseMap('gradcam', undefined, undefined), { note: 'Grad-CAM not computed yet' });
  assert.deepEqual(chooseMap('gradcam', undefined, { state: 'running' }), { note: 'Computing Grad-CAM…' });
  assert.deepEqual(chooseMap('gradcam', undefined, { state: 'error', error: 'out of memory' }), { note: 'Grad-CAM failed: out of memory' });
  const again: Job<GradCamResult> = { state: 'running', last: cam };
  const chosen = chooseMap('gradcam', undefined, again);
  assert.ok(chosen && 'map' in chosen);
  assert.equal(chosen.label, 'Grad-CAM · stage4/conv');
});

test('window labels: W/L for a window, the preset\'s numbers in the menu, and colour shown as the identity 128/256', () => {
  assert.equal(voiLabel({ kind: 'window', voi: { center: 40.4, width: 399.6 } }), 'W 400 L 40');
  assert.equal(voiLabel({ kind: 'lut' }), 'VOI LUT');
  assert.equal(presetLabel({ label: 'Lung', mode: { kind: 'window', voi: { center: -600, width: 1500 } } }), 'Lung (1500/-600)');
  assert.equal(presetLabel({ label: 'File VOI LUT', mode: { kind: 'lut' } }), 'File VOI LUT');
  const colour = { channels: 3, windows: [], valueRange: { min: 0, max: 255 } } as unknown as ImageSummary;
  assert.deepEqual(initialMode(colour), { kind: 'window', voi: IDENTITY_8BIT });
  assert.deepEqual(presetsFor(colour, false).at(-1)?.mode, { kind: 'window', voi: IDENTITY_8BIT }, 'full range of 8 bits is the identity');
});

test('an error shows as its message, anything else as text', () => {
  assert.equal(errorText(new Error('DECODE_FAILED: truncated')), 'DECODE_FAILED: truncated');
  assert.equal(errorText('plain'), 'plain');
});
