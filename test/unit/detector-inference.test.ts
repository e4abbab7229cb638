/** The TF.js detector through the one pipeline: the maps it returns are the model's own outputs, cropped to the image. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { TfjsDetector } from '../../main/detector/tfjs-detector.ts';
import { detect } from '../../main/detector/pipeline.ts';
import { buildInferenceModel, buildModel } from '../../main/detector/model.ts';
import { letterbox } from '../../main/detector/preprocess.ts';

await tf.setBackend('cpu');
tf.enableProdMode();

test('detect returns the cropped lesion map, and for non-local the affinity row of the strongest lesion position', async () => {
  const S = 64;
  const model = buildModel({ variant: 'nonlocal', inputSize: S });
  // give the non-local block a say so its affinity is not uniform noise around an identity
  for (const w of model.weights) if (/nonlocal\/gamma/.test(w.name)) w.write(tf.tensor1d([1]));
  const detector = new TfjsDetector(model);
  const image = { width: 100, height: 50, data: new Uint8Array(100 * 50 * 3).map((_, i) => (i * 37) % 256) };
  const r = await detect(detector, image, { threshold: 0.5 });

  // reference: the unfolded model on the same letterboxed input
  const { input, box } = letterbox(image, S);
  assert.deepEqual([box.width, box.height], [64, 32]);
  const x = tf.tensor4d(input, [1, S, S, 3]);
  const inference = buildInferenceModel(model);
  const [lesion, ...maps] = inference.model.predict(x) as tf.Tensor[];
  const full = lesion.dataSync();
  assert.deepEqual([r.heatmap.width, r.heatmap.height], [16, 8]);
  for (let y = 0; y < 8; y++) for (let c = 0; c < 16; c++) assert.ok(Math.abs(r.heatmap.data[y * 16 + c] - full[y * 16 + c]) < 1e-4);
  // The image-level "lesion present" score is the map's peak over the image (never the padding's), and
  // findings exist only where the map reaches the threshold: none when the score is under it.
  assert.equal(r.lesionScore, Math.max(...r.heatmap.data));
  const quiet = await detect(detector, image, { threshold: Math.min(0.999, r.lesionScore + 1e-3) });
  assert.equal(quiet.findings.length, 0);

  let peak = 0;
  for (let i = 1; i < r.heatmap.data.length; i++) if (r.heatmap.data[i] > r.heatmap.data[peak]) peak = i;
  const px = peak % 16;
  const py = Math.floor(peak / 16);
  const query = Math.floor(py / 4) * 4 + Math.floor(px / 4); // stride 4 → stride 16 on a 4×4 grid
  const affinity = maps[inference.outputs.findIndex((o) => o.kind === 'nonlocal') - 1].arraySync() as number[][][];
  const row = affinity[0][query];
  const nonlocal = r.attention.find((a) => a.kind === 'nonlocal')!;
  assert.deepEqual([nonlocal.map.width, nonlocal.map.height], [4, 2]);
  for (let y = 0; y < 2; y++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(nonlocal.map.data[y * 4 + c] - row[y * 4 + c]) < 1e-4);
  tf.dispose([x, lesion, ...maps]);
});

test('a hand-set lesion bias yields one finding covering the whole image, in image pixels', async () => {
  const model = buildModel({ variant: 'baseline', inputSize: 64 });
  const [kernel] = model.getLayer('lesion_logits').getWeights();
  model.getLayer('lesion_logits').setWeights([tf.zerosLike(kernel), tf.tensor1d([3])]); // p = σ(3) everywhere
  const detector = new TfjsDetector(model);
  const r = await detect(detector, { width: 300, height: 120, data: new Uint8Array(300 * 120 * 3) }, { threshold: 0.5 });
  assert.equal(r.findings.length, 1);
  assert.deepEqual(r.findings[0].box, [0, 0, 300, 120]);
  assert.ok(Math.abs(r.findings[0].score - 1 / (1 + Math.exp(-3))) < 1e-5);
  assert.equal(r.findings[0].area, 300 * 120);
});

test('Grad-CAM is scaled over the image it is shown on, not the letterbox padding', () => {
  // A wide image leaves most of the square input as padding, where an untrained model's CAM maximum
  // often lies; the map shown must still peak at 1 over the image itself (or be empty).
  const S = 128;
  const image = { width: 128, height: 24, data: new Uint8Array(128 * 24 * 3).map((_, i) => (i * 53) % 256) };
  let nonEmpty = 0;
  for (let k = 0; k < 4; k++) {
    const detector = new TfjsDetector(buildModel({ variant: 'cbam', inputSize: S, widths: [8, 8, 16, 16], decoderWidth: 8 }));
    const { map } = detector.gradcam(image);
    detector.dispose();
    assert.deepEqual([map.width, map.height], [8, 2]);
    const peak = Math.max(...map.data);
    if (peak > 0) nonEmpty++;
    assert.ok(peak === 0 || Math.abs(peak - 1) < 1e-6, `model ${k}: the map over the image peaks at ${peak}`);
  }
  assert.ok(nonEmpty > 0, 'at least one untrained model finds some evidence');
});

test('attention maps carry their stage, and the gate the card says training supervised is marked so', async () => {
  const detector = new TfjsDetector(buildModel({ variant: 'cbam', inputSize: 64, widths: [8, 8, 16, 16], decoderWidth: 8 }));
  const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
  const r = await detect(detector, image, { supervisedGate: 'decoder/cbam_spatial8' });
  assert.deepEqual(
    r.attention.map((a) => [a.name, a.stage, a.supervised]),
    [
      ['stage1/cbam_spatial', 1, false],
      ['stage2/cbam_spatial', 2, false],
      ['stage3/cbam_spatial', 3, false],
      ['stage4/cbam_spatial', 4, false],
      ['decoder/cbam_spatial8', 'decoder', true],
    ],
  );
  detector.dispose();
});
