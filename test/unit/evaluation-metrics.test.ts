/** Detection and segmentation metrics on hand-computed cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxIoU, connectedComponents } from '../../main/evaluation/components.ts';
import { predictionsFromMap, upsample } from '../../main/evaluation/maps.ts';
import { findings } from '../../main/detector/postprocess.ts';
import { letterboxGeometry } from '../../main/detector/preprocess.ts';
import { averagePrecision, bestThreshold, detectionAt, froc, operatingCut, operatingScore, latency, lesionsHit, overlap, pointingGame, sensitivityAt, type GroundTruth } from '../../main/evaluation/metrics.ts';

/** A w×h mask with the given rectangles (x0, y0, x1, y1 exclusive) set. */
function mask(w: number, h: number, rects: [number, number, number, number][]): Uint8Array {
  const m = new Uint8Array(w * h);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

function gt(w: number, h: number, rects: [number, number, number, number][]): GroundTruth {
  return connectedComponents(mask(w, h, rects), w, h, 0.5, 10);
}

test('connected components finds each lesion with its box and area, and drops specks under the size limit', () => {
  const m = mask(20, 10, [
    [0, 0, 1, 1], // kvasir-style stray pixel
    [2, 2, 6, 5], // 4x3 = 12 px
    [10, 1, 15, 9], // 5x8 = 40 px
  ]);
  const l = connectedComponents(m, 20, 10, 0.5, 10);
  assert.equal(l.components.length, 2);
  // Found in raster order: the taller lesion's first row (y=1) comes first.
  assert.deepEqual(l.components.map((c) => c.box), [
    [10, 1, 15, 9],
    [2, 2, 6, 5],
  ]);
  assert.deepEqual(l.components.map((c) => c.area), [40, 12]);
  assert.equal(l.labels[0], 0, 'the dropped speck is background');
  assert.equal(l.labels[3 * 20 + 3], 2);
  assert.equal(l.labels[5 * 20 + 12], 1);
});

test('connected components joins diagonal neighbours (8-connectivity) and reports the peak value', () => {
  const v = new Float32Array(16);
  v[0] = 0.6;
  v[5] = 0.9; // (1,1) touches (0,0) diagonally
  v[15] = 0.7;
  const l = connectedComponents(v, 4, 4, 0.5, 1);
  assert.equal(l.components.length, 2);
  assert.equal(l.components[0].area, 2);
  assert.ok(Math.abs(l.components[0].peak - 0.9) < 1e-6);
  assert.deepEqual(l.components[1].box, [3, 3, 4, 4]);
});

test('box IoU of half-overlapping boxes is 1/3', () => {
  assert.equal(boxIoU([0, 0, 2, 2], [1, 0, 3, 2]), 2 / 6);
  assert.equal(boxIoU([0, 0, 1, 1], [2, 2, 3, 3]), 0);
});

test('a prediction hits a lesion by its centre inside the mask or by IoU ≥ 0.3, and may hit none', () => {
  const g = gt(40, 40, [[10, 10, 20, 20]]);
  assert.deepEqual(lesionsHit({ box: [12, 12, 16, 16], score: 1 }, g), [0], 'centre inside, IoU small');
  assert.deepEqual(lesionsHit({ box: [5, 5, 17, 17], score: 1 }, g), [0], 'centre (11,11) inside');
  // Centre (22, 15) outside the mask, IoU = 50/(100+100-50) = 1/3 ≥ 0.3.
  assert.deepEqual(lesionsHit({ box: [15, 10, 25, 20], score: 1 }, g), [0]);
  // Centre (24, 15) outside, IoU = 30/(100+100-30) = 0.176.
  assert.deepEqual(lesionsHit({ box: [17, 10, 27, 20], score: 1 }, g), []);
});

test('FROC counts each lesion once, counts non-hitting predictions as false positives, and sweeps thresholds', () => {
  // Two images, three lesions.
  const a = gt(50, 50, [
    [5, 5, 15, 15],
    [30, 30, 40, 40],
  ]);
  const b = gt(50, 50, [[20, 20, 30, 30]]);
  const images = [
    {
      gt: a,
      predictions: [
        { box: [6, 6, 14, 14] as [number, number, number, number], score: 0.9 }, // hits lesion a0
        { box: [7, 7, 13, 13] as [number, number, number, number], score: 0.8 }, // hits a0 again: not FP, not counted twice
        { box: [40, 0, 48, 8] as [number, number, number, number], score: 0.7 }, // FP
        { box: [31, 31, 39, 39] as [number, number, number, number], score: 0.3 }, // hits a1
      ],
    },
    {
      gt: b,
      predictions: [
        { box: [0, 40, 8, 48] as [number, number, number, number], score: 0.6 }, // FP
        { box: [21, 21, 29, 29] as [number, number, number, number], score: 0.5 }, // hits b0
      ],
    },
  ];
  const r = froc(images, [0.25, 0.5, 1]);
  // Thresholds in order: 0.9 → 1/3 at 0 FP; 0.8 → same; 0.7 → 1 FP (0.5/img); 0.6 → 2 FP (1/img);
  // 0.5 → 2/3 at 1/img; 0.3 → 3/3 at 1/img.
  assert.equal(r.lesions, 3);
  assert.deepEqual(
    r.points.map((p) => p.sensitivity),
    [1 / 3, 1 / 3, 1],
  );
  assert.equal(sensitivityAt(r, 0), 1 / 3);
  assert.equal(sensitivityAt(r, 1), 1);
});

test('the operating point at r FP/image keeps the predictions that give sensitivity at r, image by image', () => {
  const a = gt(50, 50, [
    [5, 5, 15, 15],
    [30, 30, 40, 40],
  ]);
  const b = gt(50, 50, [[20, 20, 30, 30]]);
  const box = (x0: number, y0: number, x1: number, y1: number) => [x0, y0, x1, y1] as [number, number, number, number];
  const images = [
    { gt: a, predictions: [{ box: box(6, 6, 14, 14), score: 0.9 }, { box: box(40, 0, 48, 8), score: 0.7 }, { box: box(31, 31, 39, 39), score: 0.3 }] },
    { gt: b, predictions: [{ box: box(0, 40, 8, 48), score: 0.6 }, { box: box(21, 21, 29, 29), score: 0.5 }] },
  ];
  // 0.7 brings 0.5 FP/image, 0.6 brings 1: at 1 FP/image every prediction is kept, at 0.25 only the 0.9.
  assert.equal(operatingScore(images, 1), 0.3);
  assert.equal(operatingScore(images, 0.25), 0.9);
  assert.deepEqual(detectionAt(images[0], 0.3), { found: 2, falsePositives: 1 });
  assert.deepEqual(detectionAt(images[1], 0.3), { found: 1, falsePositives: 1 });
  assert.deepEqual(detectionAt(images[1], 0.9), { found: 0, falsePositives: 0 });
  // A first prediction that is already a false positive on one image out of one: no threshold reaches 0.5.
  assert.equal(operatingScore([{ gt: b, predictions: [{ box: box(0, 0, 5, 5), score: 0.8 }] }], 0.5), Infinity);
  // The cut sits between the lowest kept score and the next one down, or the floor the maps were cut at.
  assert.equal(operatingCut(images, 0.9, 0.2), (0.9 + 0.7) / 2);
  assert.equal(operatingCut(images, 0.3, 0.2), (0.3 + 0.2) / 2);
  assert.equal(operatingCut(images, Infinity, 0.2), null);
});

test('per-image detections at the operating point add up to the FROC sensitivity on random cases, ties included', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 20; trial++) {
    const images = Array.from({ length: 6 }, () => {
      const rects: [number, number, number, number][] = [];
      for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
        const x = Math.floor(rand() * 40);
        const y = Math.floor(rand() * 40);
        rects.push([x, y, x + 6, y + 6]);
      }
      const predictions = Array.from({ length: Math.floor(rand() * 6) }, () => {
        const x = Math.floor(rand() * 44);
        const y = Math.floor(rand() * 44);
        // Scores on a coarse grid, so thresholds tie.
        return { box: [x, y, x + 6, y + 6] as [number, number, number, number], score: Math.round(rand() * 5) / 5 };
      });
      return { gt: gt(50, 50, rects), predictions };
    });
    const r = froc(images);
    for (const rate of [0.125, 0.5, 1, 2]) {
      const t = operatingScore(images, rate);
      const found = images.reduce((n, im) => n + detectionAt(im, t).found, 0);
      const fps = images.reduce((n, im) => n + detectionAt(im, t).falsePositives, 0);
      assert.equal(found / r.lesions, sensitivityAt(r, rate), `trial ${trial} rate ${rate}`);
      assert.ok(fps / images.length <= rate + 1e-12);
      // The cut a viewer uses keeps the same findings, even with every score moved by a rounding error.
      // The floor lies below every score, as the candidate threshold lies below every peak it let through.
      const cut = operatingCut(images, t, -0.1);
      if (cut === null) {
        assert.equal(t, Infinity);
        continue;
      }
      for (const jitter of [0, 1e-6, -1e-6]) {
        const moved = images.map((im) => ({ ...im, predictions: im.predictions.map((p) => ({ ...p, score: p.score + jitter })) }));
        moved.forEach((im, i) => assert.deepEqual(detectionAt(im, cut), detectionAt(images[i], t), `trial ${trial} rate ${rate} jitter ${jitter}`));
      }
    }
  }
});

test('FROC with no predictions has zero sensitivity everywhere', () => {
  const r = froc([{ gt: gt(20, 20, [[2, 2, 8, 8]]), predictions: [] }]);
  assert.ok(r.points.every((p) => p.sensitivity === 0));
  assert.equal(r.points.length, 7);
});

test('AP at IoU 0.5: a perfect ranking gives 1, a duplicate detection is a false positive', () => {
  const g = gt(50, 50, [
    [0, 0, 10, 10],
    [20, 20, 30, 30],
  ]);
  assert.equal(
    averagePrecision([
      {
        gt: g,
        predictions: [
          { box: [0, 0, 10, 10], score: 0.9 },
          { box: [20, 20, 30, 30], score: 0.8 },
        ],
      },
    ]),
    1,
  );
  // Ranking: TP (p=1, r=.5), duplicate FP (p=.5), TP (p=2/3, r=1). Envelope: r .5 → 1, r 1 → 2/3.
  // AP = 0.5·1 + 0.5·(2/3) = 5/6.
  const ap = averagePrecision([
    {
      gt: g,
      predictions: [
        { box: [0, 0, 10, 10], score: 0.9 },
        { box: [0, 0, 10, 9], score: 0.8 },
        { box: [20, 20, 30, 30], score: 0.7 },
      ],
    },
  ]);
  assert.ok(Math.abs(ap - 5 / 6) < 1e-12, `AP ${ap}`);
});

test('Dice and IoU of a thresholded map, ignoring pixels outside the valid region', () => {
  const target = new Uint8Array([1, 1, 0, 0]);
  const pred = new Float32Array([0.9, 0.2, 0.8, 0.1]);
  const o = overlap(pred, target, 0.5);
  // pred {0,2}, target {0,1}: inter 1, Dice 2/4, IoU 1/3.
  assert.equal(o.dice, 0.5);
  assert.equal(o.iou, 1 / 3);
  const v = overlap(pred, target, 0.5, new Uint8Array([1, 1, 0, 1]));
  assert.equal(v.dice, 2 / 3);
  assert.deepEqual(overlap(new Float32Array(4), new Uint8Array(4)), { dice: 1, iou: 1 });
});

test('pointing game hits a lesion when the attention maximum lies inside it', () => {
  const g = gt(10, 10, [
    [0, 0, 4, 4],
    [6, 6, 10, 10],
  ]);
  const att = new Float32Array(100);
  att[2 * 10 + 2] = 1;
  assert.deepEqual(pointingGame(att, g), { hits: 1, lesions: 2 });
  att.fill(0);
  att[5 * 10 + 5] = 1; // between the lesions
  assert.deepEqual(pointingGame(att, g), { hits: 0, lesions: 2 });
  assert.deepEqual(pointingGame(att, g, 1), { hits: 0, lesions: 2 }, 'lesion 2 starts √2 px away');
  assert.deepEqual(pointingGame(att, g, 2), { hits: 1, lesions: 2 }, 'within 2 px of lesion 2');
});

test('bilinear upsampling keeps constants and interpolates between cells', () => {
  const up = upsample(new Float32Array([0, 1]), 2, 1, 4, 1);
  assert.deepEqual(Array.from(up), [0, 0.25, 0.75, 1]);
  assert.ok(upsample(new Float32Array([0.5, 0.5, 0.5, 0.5]), 2, 2, 8, 8).every((v) => v === 0.5));
});

test('predictions from a probability map are components scaled to input pixels and scored by their peak', () => {
  const prob = new Float32Array(16);
  prob[5] = 0.9;
  prob[6] = 0.4;
  const p = predictionsFromMap(prob, 4, 4, 4, 0.25);
  assert.equal(p.length, 1);
  assert.deepEqual(p[0].box, [4, 4, 12, 8]);
  assert.ok(Math.abs(p[0].score - 0.9) < 1e-6);
});

test('evaluation counts the candidate lesions the detector shows: a lone cell above threshold is neither', () => {
  // A two-cell blob and a lone cell, on a 4×4 map at stride 4 of a 16×16 input.
  const prob = new Float32Array(16);
  prob[0] = prob[1] = 0.9;
  prob[10] = 0.95;
  const predictions = predictionsFromMap(prob, 4, 4, 4, 0.5);
  const shown = findings({ width: 4, height: 4, data: prob }, 4, letterboxGeometry(16, 16, 16), 16, 16, { threshold: 0.5 });
  assert.deepEqual(predictions.map((p) => p.box), [[0, 0, 8, 4]]);
  assert.deepEqual(shown.map((f) => f.box), [[0, 0, 8, 4]]);
});

test('latency summary: mean, and median and p95 by nearest rank, the quantile rule every figure of the studio reads', async () => {
  const { quantile } = await import('../../main/core/stats.ts');
  assert.deepEqual(latency([40, 10, 30, 20]), { mean: 25, median: 20, p95: 40 });
  assert.deepEqual(latency([]), { mean: 0, median: 0, p95: 0 });
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(hundred, 0.95), 95, 'the 95th of 100 values, not the 96th');
  assert.equal(quantile(hundred, 0.99), 99);
  assert.equal(quantile(hundred, 0), 1);
  assert.equal(quantile(hundred, 1), 100);
  assert.equal(latency(hundred).p95, quantile(hundred, 0.95));
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('threshold calibration picks the best Dice, preferring the threshold nearest 0.5 on ties', () => {
  assert.equal(bestThreshold({ '0.30': 0.4, '0.50': 0.5, '0.70': 0.6 }), 0.7);
  assert.equal(bestThreshold({ '0.30': 0.6, '0.50': 0.6, '0.70': 0.6 }), 0.5);
  assert.equal(bestThreshold({ '0.40': 0.6, '0.80': 0.6 }), 0.4);
});

test('the operating point keeps findings on lesion-free images at or under one in ten where it can, then takes the best sensitivity', async () => {
  const { operatingThreshold, fpPerNegative, MAX_FP_PER_NEGATIVE } = await import('../../main/evaluation/metrics.ts');
  const sens = { '0.30': 0.95, '0.40': 0.94, '0.50': 0.93, '0.60': 0.9, '0.70': 0.85, '0.80': 0.7 };
  assert.equal(MAX_FP_PER_NEGATIVE, 0.1);
  // Without lesion-free images: the best sensitivity, as before.
  assert.equal(operatingThreshold(sens), 0.3);
  // With them: the most sensitive threshold that stays quiet enough.
  assert.equal(operatingThreshold(sens, { '0.30': 0.9, '0.40': 0.5, '0.50': 0.2, '0.60': 0.1, '0.70': 0.05, '0.80': 0 }), 0.6);
  // None quiet enough: the quietest, the more sensitive of a tie.
  assert.equal(operatingThreshold(sens, { '0.30': 0.9, '0.40': 0.5, '0.50': 0.3, '0.60': 0.3, '0.70': 0.4, '0.80': 0.5 }), 0.5);
  assert.equal(fpPerNegative([2, 1, 0, 3], [true, false, false, true]), 0.5);
  assert.equal(fpPerNegative([2], [true]), 0);
});
