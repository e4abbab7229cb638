/**
 * Test-time flip averaging: a flip-averaged prediction of a mirrored image is the mirror of the
 * flip-averaged prediction (maps and the non-local affinity alike), `none` is the plain prediction, and
 * the detector and evaluation run it the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { averageMirrored, mirroredBatch, passes, type FlipSet } from '../../main/detector/flips.ts';
import { FLIP_SETS, FLIP_VIEWS } from '../../preload/contract.ts';
import { TfjsDetector } from '../../main/detector/tfjs-detector.ts';
import { detect } from '../../main/detector/pipeline.ts';
import { buildInferenceModel, buildModel } from '../../main/detector/model.ts';

await tf.setBackend('cpu');
tf.enableProdMode();

const S = 64;

function nonlocalModel(): tf.LayersModel {
  const model = buildModel({ variant: 'nonlocal', inputSize: S });
  // A non-local block at its initial gamma of 0 adds nothing; give it a say, and sharpen its queries and
  // keys so the affinity is peaked (near-uniform rows would hide a wrongly permuted column).
  for (const w of model.weights) {
    if (/nonlocal\/gamma/.test(w.name)) w.write(tf.tensor1d([1]));
    if (/nonlocal_attention\/w[qk]/.test(w.name)) w.write(tf.tidy(() => tf.mul(w.read(), 100)));
  }
  return model;
}

/** A square RGB image with no symmetry, so a wrong mirror cannot pass by accident. */
function image(side: number): Uint8Array {
  return new Uint8Array(side * side * 3).map((_, i) => (i * 37 + Math.floor(i / (side * 3)) * 11) % 256);
}

function mirrorLeftRight<T extends Uint8Array | Float32Array>(data: T, h: number, w: number, channels: number): T {
  const out = data.slice() as T;
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) for (let k = 0; k < channels; k++) out[(r * w + c) * channels + k] = data[(r * w + (w - 1 - c)) * channels + k];
  return out;
}

function averaged(model: tf.LayersModel, input: Float32Array, flips: FlipSet): { data: Float32Array; dims: number[] }[] {
  const { model: inference, outputs } = buildInferenceModel(model);
  const x = tf.tensor4d(mirroredBatch(input, S, S, 3, flips), [passes(flips), S, S, 3]);
  const ys = [inference.predict(x)].flat() as tf.Tensor[];
  const out = ys.map((y, i) => ({ data: averageMirrored(y.dataSync() as Float32Array, y.shape, outputs[i].kind, flips), dims: y.shape.slice(1) }));
  tf.dispose([x, ...ys]);
  return out;
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function range(a: ArrayLike<number>): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) [lo, hi] = [Math.min(lo, a[i]), Math.max(hi, a[i])];
  return hi - lo;
}

/** Equal to within 0.1% of the values' range: tight for maps whose values span little. */
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  const worst = maxDifference(a, b);
  assert.ok(worst <= 1e-3 * range(b) + 1e-7, `${what}: differs by ${worst} (range ${range(b)})`);
}

for (const flips of ['h', 'hv'] as const) {
  test(`with flips '${flips}', the prediction for a mirrored image is the mirror of the prediction: maps and non-local affinity`, () => {
    const model = nonlocalModel();
    const input = Float32Array.from(image(S), (v) => v / 255);
    const plain = averaged(model, input, flips);
    const mirrored = averaged(model, mirrorLeftRight(input, S, S, 3), flips);
    const { outputs } = buildInferenceModel(model);
    assert.ok(outputs.some((o) => o.kind === 'nonlocal'));
    outputs.forEach((o, i) => {
      const { dims } = plain[i];
      if (o.kind === 'nonlocal') {
        const positions = dims[0];
        const side = Math.sqrt(positions);
        const perm = (p: number) => Math.floor(p / side) * side + (side - 1 - (p % side));
        const expected = new Float32Array(positions * positions);
        for (let a = 0; a < positions; a++) for (let b = 0; b < positions; b++) expected[a * positions + b] = plain[i].data[perm(a) * positions + perm(b)];
        assertClose(mirrored[i].data, expected, o.name);
      } else {
        assertClose(mirrored[i].data, mirrorLeftRight(plain[i].data, dims[0], dims[1], dims[2]), o.name);
      }
    });
    // Without averaging the network is not mirror-symmetric: the property above is the averaging's doing.
    const single = averaged(model, input, 'none')[0].data;
    const singleMirrored = averaged(model, mirrorLeftRight(input, S, S, 3), 'none')[0].data;
    const asym = maxDifference(mirrorLeftRight(single, S / 4, S / 4, 1), singleMirrored);
    assert.ok(asym > 0.05 * range(single), `an untrained network should not be mirror-symmetric (differs by ${asym}, range ${range(single)})`);
    model.dispose();
  });
}

test("flips 'none' is the plain prediction: the same arrays, one pass", () => {
  const input = new Float32Array(S * S * 3).fill(0.5);
  assert.equal(mirroredBatch(input, S, S, 3, 'none'), input);
  const data = new Float32Array([1, 2, 3, 4]);
  assert.equal(averageMirrored(data, [1, 2, 2, 1], 'lesion', 'none'), data);
  assert.deepEqual([passes('none'), passes('h'), passes('hv')], [1, 2, 4]);
  for (const f of FLIP_SETS) assert.equal(FLIP_VIEWS[f], passes(f), `the contract's views for ${f} are what runs`);
});

test('averaging refuses a batch that is not the mirrored set', () => {
  assert.throws(() => averageMirrored(new Float32Array(8), [2, 2, 2, 1], 'lesion', 'hv'), /batch of 4/);
  assert.throws(() => averageMirrored(new Float32Array(2 * 3 * 3), [2, 3, 3], 'nonlocal', 'h'), /square grid/);
});

test("the detector's flip-averaged heatmap and attention maps are mirror-equivariant on a square image", async () => {
  const model = nonlocalModel();
  const detector = new TfjsDetector(model);
  const data = image(S);
  const plain = await detect(detector, { width: S, height: S, data }, { flips: 'h' });
  const mirrored = await detect(detector, { width: S, height: S, data: mirrorLeftRight(data, S, S, 3) }, { flips: 'h' });
  assertClose(mirrored.heatmap.data, mirrorLeftRight(plain.heatmap.data, plain.heatmap.height, plain.heatmap.width, 1), 'heatmap');
  for (const [i, a] of plain.attention.entries()) {
    if (a.kind !== 'spatial') continue;
    assertClose(mirrored.attention[i].map.data, mirrorLeftRight(a.map.data, a.map.height, a.map.width, 1), a.name);
  }
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await detect(detector, { width: S, height: S, data }, { flips: 'hv' });
  assert.equal(tf.memory().numTensors, before);
  detector.dispose();
});
