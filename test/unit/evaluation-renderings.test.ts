import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GREY_RENDERINGS, RENDERINGS, renderFrame, renderingsFor } from '../../main/evaluation/renderings.ts';
import { heldOutFigures, rankModels } from '../../preload/fit.ts';

const side = 8;
/** A frame of mid reddish mucosa with a darker spot, and black letterbox rows at the bottom. */
function frame(): Uint8Array {
  const rgb = new Uint8Array(side * side * 3);
  for (let y = 0; y < side - 2; y++)
    for (let x = 0; x < side; x++) {
      const o = (y * side + x) * 3;
      const spot = x > 2 && x < 5 && y > 2 && y < 5 ? 0.6 : 1;
      rgb.set([170 * spot, 100 * spot, 90 * spot], o);
    }
  return rgb;
}

test('each rendering changes the frame as its name says, keeps its size, and keeps the letterbox black (the blur only softens its edge)', () => {
  const src = frame();
  const at = (rgb: Uint8Array, x: number, y: number) => [...rgb.subarray((y * side + x) * 3, (y * side + x) * 3 + 3)];
  const mid = at(src, 0, 0);
  assert.equal(Object.keys(RENDERINGS).length, 8);
  for (const [label, render] of Object.entries(RENDERINGS)) {
    const out = render(src, side);
    assert.equal(out.length, src.length, label);
    assert.notDeepEqual([...out], [...src], `${label} changes the frame`);
    if (!label.startsWith('soft focus')) assert.deepEqual(at(out, 3, side - 1), [0, 0, 0], `${label}: the padding stays black`);
  }
  const px = (label: string) => at(RENDERINGS[label](src, side), 0, 0);
  assert.ok(px('warm (R×1.2, B×0.8)')[0] > mid[0] && px('warm (R×1.2, B×0.8)')[2] < mid[2]);
  assert.ok(px('cool (R×0.85, B×1.2)')[0] < mid[0] && px('cool (R×0.85, B×1.2)')[2] > mid[2]);
  assert.ok(px('greenish (G×1.15)')[1] > mid[1]);
  const spread = (p: number[]) => Math.max(...p) - Math.min(...p);
  assert.ok(spread(px('washed out (saturation 0.5)')) < spread(mid));
  assert.ok(spread(px('vivid (saturation 1.5)')) > spread(mid));
  assert.ok(px('dark tone (gamma 1.5)')[0] < mid[0] && px('bright tone (gamma 0.67)')[0] > mid[0]);
  // The blur spreads the dark spot into its neighbours.
  assert.ok(at(RENDERINGS['soft focus (blur σ 1.5 px)'](src, side), 2, 3)[0] < at(src, 2, 3)[0]);
});

test('the ultrasound renderings keep a grey frame grey, change it as named, and a rendered frame keeps its letterbox black', () => {
  const grey = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) grey.fill(40 + ((i * 37) % 160), i * 3, i * 3 + 3);
  assert.equal(renderingsFor('grey'), GREY_RENDERINGS);
  assert.equal(renderingsFor('colour'), RENDERINGS);
  assert.equal(renderingsFor(undefined), RENDERINGS);
  const box = { left: 0, top: 0, width: side, height: side - 2 };
  const mean = (rgb: Uint8Array) => rgb.reduce((a, b) => a + b, 0) / rgb.length;
  for (const [label, render] of Object.entries(GREY_RENDERINGS)) {
    const out = renderFrame(render, grey, side, box);
    for (let i = 0; i < side * side; i++) assert.ok(out[i * 3] === out[i * 3 + 1] && out[i * 3 + 1] === out[i * 3 + 2], `${label}: pixel ${i} stays grey`);
    for (let i = (side - 2) * side * 3; i < out.length; i++) assert.equal(out[i], 0, `${label}: the letterbox stays black`);
    assert.notDeepEqual([...out.subarray(0, (side - 2) * side * 3)], [...grey.subarray(0, (side - 2) * side * 3)], `${label} changes the image`);
    assert.deepEqual(renderFrame(render, grey, side, box), out, `${label} is the same on every run`);
  }
  const inside = (rgb: Uint8Array) => rgb.subarray(0, (side - 2) * side * 3);
  assert.ok(mean(inside(renderFrame(GREY_RENDERINGS['low gain (×0.7)'], grey, side, box))) < mean(inside(grey)));
  assert.ok(mean(inside(renderFrame(GREY_RENDERINGS['high gain (×1.3)'], grey, side, box))) > mean(inside(grey)));
});

test('a model whose figures hold under other cameras\' renderings is offered before one that is more sensitive only as recorded', () => {
  const use = { images: 'colonoscopy frames', colour: 'colour' as const, modalities: ['ES'] };
  const rendered = (sens: number, fp: number) => Object.fromEntries(Object.keys(RENDERINGS).map((k) => [k, { sensitivity1FP: sens, fpPerNegativeImage: fp }]));
  const brittle = { name: 'a-brittle', card: { intendedUse: use, metrics: { test: { negatives: 120, fpPerNegativeImage: 0.05, sensitivity1FP: 0.92, renderings: rendered(0.7, 0.06) } } } };
  const steady = { name: 'b-steady', card: { intendedUse: use, metrics: { test: { negatives: 120, fpPerNegativeImage: 0.02, sensitivity1FP: 0.87, renderings: rendered(0.84, 0.03) } } } };
  const loudElsewhere = { name: 'c-loud', card: { intendedUse: use, metrics: { test: { negatives: 120, fpPerNegativeImage: 0.05, sensitivity1FP: 0.95, renderings: rendered(0.93, 0.4) } } } };
  assert.deepEqual(heldOutFigures(steady.card), { fpPerNegativeImage: (0.02 + 8 * 0.03) / 9, sensitivity1FP: (0.87 + 8 * 0.84) / 9 });
  const frame = { kind: 'raster' as const, colourSpread: 40 };
  assert.deepEqual(rankModels([brittle, loudElsewhere, steady], frame).map((m) => m.name), ['b-steady', 'a-brittle', 'c-loud']);
  // Without renderings the recorded figures decide, as before.
  const plain = { name: 'd-plain', card: { intendedUse: use, metrics: { test: { negatives: 120, fpPerNegativeImage: 0.05, sensitivity1FP: 0.9 } } } };
  assert.deepEqual(heldOutFigures(plain.card), { fpPerNegativeImage: 0.05, sensitivity1FP: 0.9 });
});
