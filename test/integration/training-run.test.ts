/**
 * Training end to end on a tiny synthetic dataset (bright discs on noise, generated here): the CLI
 * resumes after kill -9, the service runs training in a worker with progress events and pause/resume,
 * and evaluation.compare reports on the held-out split.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvaluationProgress, Events, StudioError, TrainingProgress } from '../../preload/contract.ts';
import { createTrainingHandlers } from '../../main/training/handlers.ts';
import { createEvaluationHandlers } from '../../main/evaluation/handlers.ts';
import { EventHub } from '../../main/core/events.ts';
import type { ServiceContext } from '../../main/core/context.ts';
import { loadSettings, PROJECT_ROOT } from '../../main/settings.ts';
import { loadModel, saveModel } from '../../main/detector/io.ts';
import { buildModel, DECODER_GATE } from '../../main/detector/model.ts';
import * as tf from '@tensorflow/tfjs';
import { makeDiscDataset } from './training-fixtures.ts';
import { rleDecode } from '../../preload/mask-rle.ts';
import sharp from 'sharp';

const root = mkdtempSync(join(tmpdir(), 'studio-train-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const data = join(root, 'discs');
await makeDiscDataset(data, 32);

function runCli(args: string[], onLine?: (line: string) => void): { done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>; kill(signal: NodeJS.Signals): void; pid: number } {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    if (onLine) for (const l of String(b).split('\n')) if (l) onLine(l);
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { done, kill: (sig) => child.kill(sig), pid: child.pid as number };
}

/** Runs `studio train` and SIGKILLs it as soon as its first checkpoint is complete (state.json is written last, then swapped in). */
async function killAtFirstCheckpoint(args: string[], out: string) {
  const first = runCli(args);
  const stateFile = join(out, 'checkpoint', 'state.json');
  const deadline = Date.now() + 120_000;
  while (!existsSync(stateFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(stateFile), 'no checkpoint appeared within 2 minutes');
  first.kill('SIGKILL');
  const killed = await first.done;
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(!existsSync(join(out, 'card.json')), 'the killed run must not have finished');
  return { killed, stateFile };
}

test('studio train refuses an unknown --augment preset before doing any work', async () => {
  const out = join(root, 'models', 'bad-augment');
  const run = await runCli(['train', '--data', data, '--variant', 'cbam', '--epochs', '1', '--out', out, '--augment', 'wild']).done;
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /--augment must be one of standard, strong/);
  assert.ok(!existsSync(out), 'nothing was written');
});

test('a two-thread run that fails mid-epoch rejects and closes its helper threads, so its process exits', async () => {
  // If the helpers stayed up, this child would never exit and the test would time out.
  const options = { name: 'fails', data, format: 'masks', variant: 'cbam', epochs: 2, batchSize: 4, inputSize: 64, learningRate: 1e-3, seed: 1, out: join(root, 'models', 'fails'), workers: 2, validate: false };
  const script = `
    const { train } = await import(${JSON.stringify(join(PROJECT_ROOT, 'main', 'training', 'trainer.ts'))});
    let steps = 0;
    const hooks = { progress() {}, gate: async () => { if (++steps > 2) throw new Error('stopped by the test'); return 'go'; } };
    await train(${JSON.stringify(options)}, hooks).then(() => console.log('finished'), (e) => console.log('rejected: ' + e.message));
  `;
  // A file, not -e: worker threads inherit the parent's execArgv, and --input-type would break them.
  const file = join(root, 'fails.mjs');
  writeFileSync(file, script);
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (b) => (stdout += b));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  assert.match(stdout, /rejected: stopped by the test/);
  assert.equal(signal, null, 'the process had to be killed: its helper threads kept it alive');
  assert.equal(code, 0);
});

test('studio train killed with SIGKILL resumes from its last checkpoint and finishes with a card and split', async () => {
  const out = join(root, 'models', 'discs-cbam');
  const args = ['train', '--data', data, '--variant', 'cbam', '--epochs', '4', '--out', out, '--input-size', '64', '--batch', '4', '--seed', '3'];
  const { stateFile } = await killAtFirstCheckpoint(args, out);
  const savedEpoch = JSON.parse(readFileSync(stateFile, 'utf8')).epoch as number;
  assert.ok(savedEpoch >= 1 && savedEpoch < 4);

  const second = await runCli(args).done;
  assert.equal(second.code, 0, second.stderr);
  const summary = JSON.parse(second.stdout.trim().split('\n').pop() as string);
  assert.ok(summary.resumedFrom >= savedEpoch, `resumed from ${summary.resumedFrom}, checkpoint was epoch ${savedEpoch}`);
  assert.match(second.stderr, /resuming discs-cbam from its epoch-\d checkpoint/);
  // Once an epoch's summary line is printed, no progress bar of that epoch is drawn again after it.
  const lines = second.stderr.split('\n');
  lines.forEach((line, i) => {
    const summary = /^epoch (\d+)\/4 loss /.exec(line);
    if (!summary) return;
    const redrawn = lines.slice(i + 1).find((l) => l.startsWith(`epoch ${summary[1]}/4 `) && /[█░]/.test(l));
    assert.equal(redrawn, undefined, `epoch ${summary[1]}'s bar was drawn after its summary`);
  });
  const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8'));
  assert.equal(card.variant, 'cbam');
  assert.equal(card.inputSize, 64);
  assert.equal(card.training.history.length, 4, 'every epoch, before and after the kill, is in the history');
  assert.equal(card.hyperparameters.seed, 3);
  assert.match(card.kernels, card.backend === 'wasm' ? /^(native conv kernels|wasm's own)/ : /own$/, 'the card says which convolution kernels trained it');
  assert.deepEqual(card.hyperparameters.attentionSupervision, { layer: 'decoder/cbam_spatial8', weight: 0.5 }, 'cbam trains its decoder gate, the one nearest the output, supervised by default');
  // The test-time flips are the validation's best, and the thresholds were calibrated with them.
  const diceByFlips = card.calibration.diceByFlips as Record<string, number>;
  assert.deepEqual(Object.keys(diceByFlips).sort(), ['h', 'hv', 'none']);
  assert.equal(diceByFlips[card.flips], Math.max(...Object.values(diceByFlips)), `flips ${card.flips} of ${JSON.stringify(diceByFlips)}`);
  assert.equal(card.calibration.flips, card.flips);
  assert.match(second.stderr, /test-time flips (none|h|hv): validation Dice none/);
  const split = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8'));
  assert.equal(split.train.length + split.val.length + split.test.length, 32);
  assert.equal(new Set([...split.train, ...split.val, ...split.test]).size, 32, 'splits are disjoint');
  assert.ok(!existsSync(join(out, 'checkpoint')), 'the checkpoint is removed once the model is final');
  assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'weights.bin')));

  // And the evaluation CLI records test metrics in the card.
  const report = join(root, 'report.json');
  const ev = await runCli(['evaluate', '--model', out, '--data', data, '--out', report]).done;
  assert.equal(ev.code, 0, ev.stderr);
  const r = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(r.split, 'test');
  assert.equal(r.images, split.test.length);
  assert.equal(r.froc.length, 7);
  for (const k of ['dice', 'iou', 'ap50', 'pointingGame', 'pointingGameImages', 'pointingCeiling', 'latencyMs']) assert.ok(Number.isFinite(r[k]), `${k} = ${r[k]}`);
  for (const k of ['pointingGameImages', 'pointingCeiling']) assert.ok(r[k] >= 0 && r[k] <= 1, `${k} = ${r[k]}`);
  assert.equal(r.flips, card.flips, 'evaluation runs the flips the card chose');
  // Per-image scores add up to the summary: Compare's list of where models differ reads them.
  const per = r.perImage as { id: string; dice: number; lesions: number; found: number; falsePositives: number; pointed: number }[];
  assert.deepEqual(per.map((p) => p.id), split.test);
  const sum = (k: 'dice' | 'lesions' | 'found' | 'falsePositives' | 'pointed') => per.reduce((n, p) => n + p[k], 0);
  assert.ok(Math.abs(sum('dice') / per.length - r.dice) < 1e-9, 'mean per-image Dice is the Dice');
  assert.equal(sum('lesions'), r.lesions);
  assert.equal(sum('found') / r.lesions, r.sensitivity1FP, 'lesions found at the operating point give sens@1');
  assert.ok(sum('falsePositives') / per.length <= 1, 'at most 1 FP/image at the 1 FP/image operating point');
  // Where that point lies, for a viewer to cut boxes at: a kept finding scores at least the candidate threshold.
  if (r.operatingScore1FP === null) assert.equal(sum('found') + sum('falsePositives'), 0, 'no operating point only when nothing was found');
  else assert.ok(r.operatingScore1FP >= r.candidateThreshold && r.operatingScore1FP <= 1, `operating point ${r.operatingScore1FP}`);
  assert.equal(sum('pointed') / r.lesions, r.pointingGame);
  const carded = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8'));
  assert.equal(carded.metrics.test.images, split.test.length);
  assert.equal(carded.metrics.test.perImage, undefined, 'the card keeps the summary, not every image');
});

test('studio train fine-tunes a base trained at another input size, starting from its weights', async () => {
  const base = join(root, 'models', 'discs-base-32');
  const first = await runCli(['train', '--data', data, '--variant', 'cbam', '--epochs', '1', '--out', base, '--input-size', '32', '--batch', '4', '--seed', '3']).done;
  assert.equal(first.code, 0, first.stderr);
  const out = join(root, 'models', 'discs-ft-48');
  // A vanishing learning rate: the fine-tuned kernels must still be the base's, moved by at most ~1e-6.
  const second = await runCli(['train', '--data', data, '--variant', 'cbam', '--epochs', '1', '--out', out, '--input-size', '48', '--batch', '4', '--seed', '3', '--lr', '1e-9', '--base', base]).done;
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /fine-tuning at 48px from a base trained at 32px/);
  const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8'));
  assert.equal(card.inputSize, 48);
  assert.equal(card.hyperparameters.baseTraining.inputSize, 32);
  const [a, b] = await Promise.all([loadModel(base), loadModel(out)]);
  assert.equal(b.inputs[0].shape[1], 48);
  const kernel = (m: tf.LayersModel) => m.getLayer('stage2/body/conv').getWeights()[0].dataSync();
  const [ka, kb] = [kernel(a), kernel(b)];
  let moved = 0;
  for (let i = 0; i < ka.length; i++) moved = Math.max(moved, Math.abs(ka[i] - kb[i]));
  assert.ok(moved < 1e-5, `the fine-tune moved a base kernel by ${moved}`);
  a.dispose();
  b.dispose();
  // Another variant is still refused, with the reason.
  const wrong = await runCli(['train', '--data', data, '--variant', 'baseline', '--epochs', '1', '--out', join(root, 'models', 'wrong'), '--input-size', '48', '--batch', '4', '--base', base]).done;
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /base model is cbam; this run is baseline/);
});

test('fine-tuning a cbam model from before the decoder gate adds the gate, keeps every other weight, survives kill -9 and says so in the card', async () => {
  const base = join(root, 'models', 'discs-old-cbam');
  const old = buildModel({ variant: 'cbam', inputSize: 32, decoderGate: false });
  await saveModel(old, base, { name: 'discs-old-cbam', variant: 'cbam', inputSize: 32 });
  const out = join(root, 'models', 'discs-gated');
  const args = ['train', '--data', data, '--variant', 'cbam', '--epochs', '3', '--out', out, '--input-size', '32', '--batch', '4', '--seed', '3', '--lr', '1e-9', '--base', base];
  // Killed once its first checkpoint (already with the gate) is complete: the resumed run must not add a
  // second gate, and must keep the lineage that only the first run could work out from the base.
  const { killed } = await killAtFirstCheckpoint(args, out);
  assert.match(killed.stderr, /the base predates the decoder gate/);
  const run = await runCli(args).done;
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /resuming discs-gated from its epoch-\d checkpoint/);
  assert.doesNotMatch(run.stderr, /the base predates the decoder gate/, 'the resumed run continues the upgraded model');
  const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8'));
  assert.ok(card.training.resumedFrom >= 1, `the card says it resumed (${card.training.resumedFrom})`);
  assert.equal(card.hyperparameters.baseTraining.architecture, `no decoder gate; the run fine-tuned from this model added ${DECODER_GATE}, starting as the base's own function (the gate 0.5 on every cell, the conv it feeds doubled)`);
  assert.deepEqual(card.hyperparameters.attentionSupervision, { layer: DECODER_GATE, weight: 0.5 });
  const tuned = await loadModel(out);
  assert.equal(tuned.layers.filter((l) => l.name.includes('cbam_spatial8')).length, 1, 'the fine-tuned model has one decoder gate');
  const kernel = (m: tf.LayersModel) => m.getLayer('stage4/cbam_spatial').getWeights()[0].dataSync();
  const [ka, kb] = [kernel(old), kernel(tuned)];
  let moved = 0;
  for (let i = 0; i < ka.length; i++) moved = Math.max(moved, Math.abs(ka[i] - kb[i]));
  assert.ok(moved < 1e-5, `the fine-tune moved the base's stage-4 gate by ${moved}`);
  old.dispose();
  tuned.dispose();
});

test('the training service runs in a worker, streams progress, pauses and resumes, and compares models with live progress and a cancel', async () => {
  const modelsDir = join(root, 'service-models');
  const events = new EventHub();
  const seen: TrainingProgress[] = [];
  const scoring: EvaluationProgress[] = [];
  let onScoring: (p: EvaluationProgress) => void = () => {};
  events.subscribe(((name: keyof Events, payload: unknown) => {
    if (name === 'training.progress') seen.push(payload as TrainingProgress);
    if (name === 'evaluation.progress') {
      scoring.push(payload as EvaluationProgress);
      onScoring(payload as EvaluationProgress);
    }
  }) as Parameters<EventHub['subscribe']>[0]);
  const ctx: ServiceContext = {
    settings: { ...loadSettings(), modelsDir },
    events,
    shell: 'browser',
    version: 'test',
    images: { summary: () => { throw new Error('unused'); }, frame: async () => { throw new Error('unused'); } },
    log: () => {},
  };
  const service = createTrainingHandlers(ctx);
  const evaluation = createEvaluationHandlers(ctx);
  try {
    const h = { ...service.handlers, ...evaluation.handlers };
    const { runId } = await h['training.start']({ name: 'svc-baseline', data, format: 'masks', variant: 'baseline', epochs: 2, batchSize: 4, inputSize: 64, learningRate: 1e-3, seed: 1, attentionWeight: 0, augmentation: 'standard' });
    await assert.rejects(h['training.start']({ name: 'other', data, format: 'masks', variant: 'baseline', epochs: 1, batchSize: 4, inputSize: 64, learningRate: 1e-3, seed: 1, attentionWeight: 0, augmentation: 'standard' }), /still running/);
    // Wait for a running step, then pause: no step may advance while paused.
    const until = async (pred: () => boolean, ms = 300_000) => {
      const end = Date.now() + ms;
      while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(pred(), 'timed out');
    };
    await until(() => seen.some((p) => p.state === 'running' && p.step > 0));
    const paused = await h['training.control']({ runId, action: 'pause' });
    assert.equal(paused.state, 'paused');
    // The step in flight when the pause came may still land; the worker then reports it has stopped.
    await until(() => seen.some((p) => p.state === 'paused' && p.message === 'paused between steps'));
    const at = (await h['training.list']({})).find((p) => p.runId === runId) as TrainingProgress;
    await new Promise((r) => setTimeout(r, 1000));
    const later = (await h['training.list']({})).find((p) => p.runId === runId) as TrainingProgress;
    assert.deepEqual([later.epoch, later.step], [at.epoch, at.step], 'no progress while paused');
    const pausedEvents = seen.length;
    await h['training.control']({ runId, action: 'resume' });
    // A hang guard, not a speed test: on shared cores two epochs and the flips choice can take minutes.
    await until(() => seen.some((p) => p.state === 'finished'), 600_000);
    assert.ok(seen.some((p) => p.message === 'choosing test-time flips on the validation split'), 'the flips choice is reported while it runs');
    const final = seen[seen.length - 1];
    assert.equal(final.runId, runId);
    assert.equal(final.history.length, 2);
    assert.ok(final.history.every((e) => Number.isFinite(e.loss) && typeof e.valDice === 'number' && typeof e.valSensitivity1FP === 'number'));
    assert.ok(seen.some((p) => p.imagesPerSec > 0));
    // Images/s is the speed of the steps: a pause of over a second must not drag it down.
    const beforePause = seen.slice(0, pausedEvents).filter((p) => p.imagesPerSec > 0).pop() as TrainingProgress;
    const afterResume = seen.slice(pausedEvents).find((p) => p.state === 'running' && p.imagesPerSec > 0 && (p.epoch > at.epoch || p.step > at.step)) as TrainingProgress;
    assert.ok(afterResume.imagesPerSec > 0.5 * beforePause.imagesPerSec, `images/s ${beforePause.imagesPerSec.toFixed(1)} before the pause, ${afterResume.imagesPerSec.toFixed(1)} after`);
    // Between epochs the ETA is known (the rest of the steps plus the last validation's duration).
    const endOfEpoch1 = seen.find((p) => p.state === 'running' && p.epoch === 1 && p.step === p.steps && p.history.length === 1) as TrainingProgress;
    assert.ok(endOfEpoch1 && Number.isFinite(endOfEpoch1.etaSec) && endOfEpoch1.etaSec > 0, `ETA after epoch 1: ${endOfEpoch1?.etaSec}`);
    assert.ok(existsSync(join(modelsDir, 'svc-baseline', 'card.json')));
    await assert.rejects(h['training.control']({ runId, action: 'pause' }), /already finished/);

    const { reports } = await h['evaluation.compare']({ models: ['svc-baseline'], data, format: 'masks', split: 'test', scope: 'own', renderings: false });
    assert.equal(reports.length, 1);
    assert.equal(reports[0].model, 'svc-baseline');
    assert.equal(reports[0].froc.length, 7);
    assert.ok(reports[0].dice >= 0 && reports[0].dice <= 1);
    // The comparison streams its progress: it starts at 0, counts the images up and ends finished.
    assert.equal(scoring[0].state, 'running');
    assert.deepEqual([scoring[0].done, scoring[0].models], [0, ['svc-baseline']]);
    const last = scoring[scoring.length - 1];
    assert.deepEqual([last.state, last.done, last.total, last.etaSec], ['finished', reports[0].images, reports[0].images, 0]);
    assert.ok(scoring.some((p) => p.state === 'running' && p.done > 0 && Number.isFinite(p.etaSec)), 'a running update with images scored and an ETA');
    await assert.rejects(h['evaluation.compare']({ models: ['nope'], data, format: 'masks', split: 'test', scope: 'own', renderings: false }), /no model 'nope'/);

    // A reported image can be fetched with its ground truth at its own size, as its mask file has it.
    const scored = reports[0].perImage ?? [];
    assert.equal(scored.length, reports[0].images);
    const sample = await h['evaluation.sample']({ data, id: scored[0].id, format: 'masks' });
    assert.equal(sample.path, join(data, 'images', scored[0].id));
    const truth = rleDecode(sample.truth);
    const maskFile = await sharp(join(data, 'masks', scored[0].id)).greyscale().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([truth.width, truth.height], [maskFile.info.width, maskFile.info.height]);
    assert.ok(truth.data.every((v, i) => v === (maskFile.data[i] > 127 ? 1 : 0)), 'the truth is the mask file, pixel for pixel');
    assert.ok(truth.data.some((v) => v === 1));
    for (const bad of ['../discs/images/' + scored[0].id, 'missing.png']) {
      await assert.rejects(h['evaluation.sample']({ data, id: bad, format: 'masks' }), (err: StudioError) => err.code === 'NOT_FOUND', bad);
    }

    // Cancelled once the first image is scored: the call rejects as cancelled (not as a crash), the event
    // says cancelled, and the next comparison runs (the service is not left busy).
    scoring.length = 0;
    onScoring = (p) => p.state === 'running' && p.done > 0 && void h['evaluation.cancel']({});
    const models = ['svc-baseline', 'svc-baseline', 'svc-baseline', 'svc-baseline'];
    await assert.rejects(h['evaluation.compare']({ models, data, format: 'masks', split: 'train', scope: 'own', renderings: false }), (err: StudioError) => err.code === 'CANCELLED');
    onScoring = () => {};
    assert.equal(scoring[scoring.length - 1].state, 'cancelled');
    assert.ok(scoring.every((p) => p.modelIndex === 0), 'cancelled during the first model');
    assert.deepEqual(await h['evaluation.cancel']({}), { cancelled: false }, 'nothing left to cancel');
    const again = await h['evaluation.compare']({ models: ['svc-baseline'], data, format: 'masks', split: 'test', scope: 'own', renderings: false });
    assert.equal(again.reports[0].dice, reports[0].dice, 'the same model on the same split scores the same');

    // A copy whose split holds out three of the model's test images and two of its training images: on
    // their own splits the two meet other images; in common scope both score exactly the shared three.
    const own = JSON.parse(readFileSync(join(modelsDir, 'svc-baseline', 'split.json'), 'utf8')) as { train: string[]; val: string[]; test: string[] };
    const shared = own.test.slice(0, 3);
    const moved = own.train.slice(0, 2);
    const reshuffle = (name: string, test: string[]) => {
      cpSync(join(modelsDir, 'svc-baseline'), join(modelsDir, name), { recursive: true });
      const rest = [...own.train, ...own.test].filter((id) => !test.includes(id));
      writeFileSync(join(modelsDir, name, 'split.json'), JSON.stringify({ ...own, train: rest, test }));
    };
    // Listed in the opposite order: the shared images are scored in the first model's order all the same.
    reshuffle('svc-other-split', [...moved, ...[...shared].reverse()]);
    const apart = await h['evaluation.compare']({ models: ['svc-baseline', 'svc-other-split'], data, format: 'masks', split: 'test', scope: 'own', renderings: false });
    assert.notEqual(apart.reports[0].imageSet, apart.reports[1].imageSet);
    const common = await h['evaluation.compare']({ models: ['svc-baseline', 'svc-other-split'], data, format: 'masks', split: 'test', scope: 'common', renderings: false });
    for (const r of common.reports) assert.deepEqual(r.perImage?.map((p) => p.id), shared, `${r.model} scores the images both hold out, in the first model's order`);
    assert.equal(common.reports[0].imageSet, common.reports[1].imageSet);
    assert.equal(common.reports[0].dice, common.reports[1].dice, 'the same weights on the same images score the same');
    const limited = await h['evaluation.compare']({ models: ['svc-baseline', 'svc-other-split'], data, format: 'masks', split: 'test', scope: 'common', renderings: false, limit: 2 });
    for (const r of limited.reports) assert.deepEqual(r.perImage?.map((p) => p.id), shared.slice(0, 2), `${r.model}: a limit takes the same first shared images for every model`);
    // With no image held out by both, the comparison is refused and says why.
    reshuffle('svc-disjoint', moved);
    await assert.rejects(h['evaluation.compare']({ models: ['svc-baseline', 'svc-disjoint'], data, format: 'masks', split: 'test', scope: 'common', renderings: false }), (err: StudioError) => err.code === 'INVALID_PAYLOAD' && /no image .* lies in the test split of every picked model \(svc-baseline \d+, svc-disjoint 2 images each\)/.test(err.message));
  } finally {
    await Promise.all([service.close(), evaluation.close()]);
  }
});
