/**
 * A model folder is user input too: the studio lists and loads whatever sits in its models folder, and
 * `--model PATH` takes any folder. Found by a hunt for hostile model folders (session 30): a card.json
 * linked to /dev/zero grew `models.list` by gigabytes, a FIFO blocked it for good, a 272 MB card aborted the
 * process, a model.json declaring an 8192² input took 10–16 GB at the first image, and a weights file listed
 * 2,000 times was read 2,000 times before the sizes were compared.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StudioError } from '../../preload/contract.ts';
import { checkInputShape, listModels, loadModel, MAX_CARD_BYTES, readCard } from '../../main/detector/io.ts';
import { readAppearance } from '../../main/detector/appearance.ts';
import { TfjsDetector } from '../../main/detector/tfjs-detector.ts';
import { useBackend } from '../../main/detector/kernels/backend.ts';
import { PROJECT_ROOT } from '../../main/settings.ts';

const root = mkdtempSync(join(tmpdir(), 'hostile-model-'));
after(() => rmSync(root, { recursive: true, force: true }));
const SHIPPED = join(PROJECT_ROOT, 'models', 'kvasir-baseline-neg');

/** A copy of a shipped model's files, for one case to spoil. */
function copyModel(name: string): string {
  const dir = join(root, 'models', name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['model.json', 'weights.bin', 'card.json', 'appearance.json', 'split.json']) copyFileSync(join(SHIPPED, f), join(dir, f));
  return dir;
}

const loadFailed = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof StudioError, String(e));
  assert.equal(e.code, 'MODEL_LOAD_FAILED');
  assert.match(e.message, pattern);
  return true;
};

test('a card that is /dev/zero, a FIFO or over the size limit is a clear error, and the other models still list', () => {
  const zero = copyModel('zero');
  rmSync(join(zero, 'card.json'));
  symlinkSync('/dev/zero', join(zero, 'card.json'));
  const fifo = copyModel('fifo');
  rmSync(join(fifo, 'card.json'));
  execFileSync('mkfifo', [join(fifo, 'card.json')]);
  const big = copyModel('big');
  writeFileSync(join(big, 'card.json'), Buffer.alloc(MAX_CARD_BYTES + 1, 0x20));
  copyModel('good');
  assert.throws(() => readCard(zero), loadFailed(/not a regular file/));
  assert.throws(() => readCard(fifo), loadFailed(/not a regular file/));
  assert.throws(() => readCard(big), loadFailed(/at most 4194304/));
  const errors: string[] = [];
  const listed = listModels(join(root, 'models'), (m) => errors.push(m));
  assert.deepEqual(listed.map((m) => m.name), ['good']);
  assert.equal(errors.length, 3, errors.join('\n'));
});

test('appearance statistics linked to /dev/zero are refused, not read forever', () => {
  const dir = copyModel('zero-appearance');
  rmSync(join(dir, 'appearance.json'));
  symlinkSync('/dev/zero', join(dir, 'appearance.json'));
  const card = readCard(dir);
  assert.throws(() => readAppearance(dir, 'hv', { threshold: card.appearance?.byFlips?.hv?.threshold ?? 2, fittedAt: card.appearance?.fittedAt }), loadFailed(/not a regular file/));
});

test('a network whose input is not [n, S, S, 3] with S a size the studio trains is refused before it runs', async () => {
  await useBackend();
  // The network is fully convolutional, so TF.js builds it at 8192² without complaint.
  const dir = copyModel('huge');
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  json.modelTopology.config.layers[0].config.batch_input_shape = [null, 8192, 8192, 3];
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  await assert.rejects(TfjsDetector.load(dir), loadFailed(/the network's input is \[, 8192, 8192, 3\]/));
  // The same rule for the onnxruntime backend's metadata.
  for (const shape of [[1, 8192, 8192, 3], [1, 200, 200, 3], [1, 192, 256, 3], [1, 192, 192, 1], [1, '192', 192, 3]]) assert.throws(() => checkInputShape(shape, 'model.onnx.json'), loadFailed(/the network's input is/), String(shape));
  assert.equal(checkInputShape([null, 256, 256, 3], 'model.json'), 256);
});

test('a weights file listed more than once is refused before anything is read', async () => {
  const dir = copyModel('repeated');
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = Array.from({ length: 2000 }, () => 'weights.bin');
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  await assert.rejects(loadModel(dir), loadFailed(/lists the weights file weights.bin more than once/));
});

test('appearance statistics whose precision matrix is all zeros are refused: they scored every image 0, a guard turned off without a word', () => {
  const dir = copyModel('zero-precision');
  const file = JSON.parse(readFileSync(join(dir, 'appearance.json'), 'utf8'));
  for (const view of Object.values(file.byFlips) as { precision: string }[]) view.precision = Buffer.alloc(Buffer.from(view.precision, 'base64').byteLength).toString('base64');
  writeFileSync(join(dir, 'appearance.json'), JSON.stringify(file));
  const card = readCard(dir);
  assert.throws(() => readAppearance(dir, 'hv', { threshold: card.appearance?.byFlips?.hv?.threshold ?? 2, fittedAt: card.appearance?.fittedAt }), loadFailed(/are not a fit/));
  // The shipped statistics pass the same check.
  assert.ok(readAppearance(SHIPPED, 'hv', { threshold: card.appearance?.byFlips?.hv?.threshold ?? 2, fittedAt: card.appearance?.fittedAt }));
});

test('a card nested thousands deep is refused by itself, so the list of the others can still be sent', () => {
  const dir = copyModel('deep');
  const card = readFileSync(join(dir, 'card.json'), 'utf8').trim();
  writeFileSync(join(dir, 'card.json'), `${card.slice(0, -1)}, "extra": ${'{"a":'.repeat(20_000)}{}${'}'.repeat(20_000)}}`);
  assert.throws(() => readCard(dir), loadFailed(/nests its values more than 32 deep/));
  // Every shipped card reads (the depth bound leaves them room).
  for (const m of listModels(join(PROJECT_ROOT, 'models'))) assert.ok(readCard(join(PROJECT_ROOT, 'models', m.name)));
});
