/**
 * A model finding's lesion shape (main/review/lesion-mask.ts): the lesion map's component the detector
 * found it as, in image pixels, as COCO RLE. Before it, the store kept a model finding as its box alone, so
 * an accepted finding trained as a filled rectangle (issue 24).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findings } from '../../main/detector/postprocess.ts';
import { letterboxGeometry } from '../../main/detector/preprocess.ts';
import { componentRle, findingMasks } from '../../main/review/lesion-mask.ts';
import { rleArea, rleBox, rleDecode } from '../../main/review/rle.ts';

const STRIDE = 4;

/** A lesion map over a W×H image as the detector crops it (input S, stride 4), with cells set to 0.9. */
function lesionMap(W: number, H: number, S: number, hot: [number, number][]) {
  const box = letterboxGeometry(W, H, S);
  const cols = Math.ceil(box.width / STRIDE), rows = Math.ceil(box.height / STRIDE);
  const data = new Float32Array(cols * rows).fill(0.05);
  for (const [x, y] of hot) data[y * cols + x] = 0.9;
  return { map: { width: cols, height: rows, data }, box };
}

/** Pixels whose centre falls in a hot cell, by brute force. */
function expected(W: number, H: number, cellPx: number, cols: number, hot: Set<number>): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (hot.has(Math.floor((y + 0.5) / cellPx) * cols + Math.floor((x + 0.5) / cellPx))) m[y * W + x] = 1;
  return m;
}

test('each model finding gets its own lesion-map component as a mask: lesion-shaped, not its box', () => {
  // 622×530 like a Kvasir frame, a 192 input: 12.96 px per cell, 48×41 cells.
  const W = 622, H = 530, S = 192;
  const L: [number, number][] = [[10, 10], [10, 11], [10, 12], [10, 13], [11, 13], [12, 13], [13, 13]];
  const blob: [number, number][] = [[30, 20], [31, 20], [30, 21], [31, 21]];
  const { map, box } = lesionMap(W, H, S, [...L, ...blob]);
  const found = findings(map, STRIDE, box, W, H, { threshold: 0.5 });
  assert.equal(found.length, 2);
  const masks = findingMasks(map, W, H, 0.5, found);
  const cellPx = STRIDE / box.scale;
  for (const [i, f] of found.entries()) {
    const mask = masks[i]!;
    assert.ok(mask, `finding ${i} has a mask`);
    assert.deepEqual(mask.size, [H, W]);
    const cells = f.box[0] < 200 ? L : blob;
    const want = expected(W, H, cellPx, map.width, new Set(cells.map(([x, y]) => y * map.width + x)));
    assert.deepEqual(rleDecode(mask).data, want, 'the pixels whose centre lies in the component');
    const [x0, y0, x1, y1] = rleBox(mask)!;
    assert.ok(x0 >= Math.floor(f.box[0]) && y0 >= Math.floor(f.box[1]) && x1 <= Math.ceil(f.box[2]) && y1 <= Math.ceil(f.box[3]), `the mask ${rleBox(mask)} lies in its box ${f.box}`);
    assert.ok(Math.abs(rleArea(mask) - f.area) <= f.area * 0.15, `its area ${rleArea(mask)} is the finding's (${f.area})`);
  }
  const lIndex = found.findIndex((f) => f.box[0] < 200);
  const lBox = found[lIndex].box;
  assert.ok(rleArea(masks[lIndex]!) < 0.6 * (lBox[2] - lBox[0]) * (lBox[3] - lBox[1]), 'the L is far from its filled box');
  const [bx0, , bx1] = rleBox(masks[lIndex]!)!;
  assert.ok(masks[lIndex]!.counts.length <= 2 * (bx1 - bx0) + 2, 'at most one run of lesion per column here: no pixel-sized speckle');
});

test('a finding that is no component of the map gets no mask, and a component too small to hold a pixel centre gives none', () => {
  const { map } = lesionMap(100, 80, 128, [[3, 3], [4, 3]]);
  assert.deepEqual(findingMasks(map, 100, 80, 0.5, [{ box: [50, 50, 60, 60], score: 0.9 }]), [undefined]);
  assert.deepEqual(findingMasks(map, 100, 80, 0.5, []), []);
  // 0.4 px per cell: cell (2, 1) ([0.8, 1.2) px across) holds no pixel centre.
  assert.equal(componentRle([27], 25, 0.4, 10, 10), undefined);
  assert.ok(componentRle([26], 25, 0.4, 10, 10), 'cell (1, 1) holds the centre of pixel (0, 0)');
});

test("with the model's outline threshold, a finding cut at a high operating point keeps the lesion's whole outline, smooth as evaluation upsamples it, and never a neighbour's", async () => {
  const { upsample } = await import('../../main/evaluation/maps.ts');
  const W = 400, H = 300, S = 192;
  const box = letterboxGeometry(W, H, S);
  const cols = Math.ceil(box.width / STRIDE), rows = Math.ceil(box.height / STRIDE);
  const data = new Float32Array(cols * rows).fill(0.02);
  // A lesion whose core is sure (0.9) and whose rim is less so (0.6), and a separate weak blob nearby.
  for (let y = 8; y <= 16; y++) for (let x = 8; x <= 16; x++) data[y * cols + x] = 0.6;
  for (let y = 11; y <= 13; y++) for (let x = 11; x <= 13; x++) data[y * cols + x] = 0.9;
  for (let y = 10; y <= 12; y++) for (let x = 20; x <= 22; x++) data[y * cols + x] = 0.6;
  const map = { width: cols, height: rows, data };
  const found = findings(map, STRIDE, box, W, H, { threshold: 0.8 });
  assert.equal(found.length, 1, 'only the core passes the operating point');
  const [core] = findingMasks(map, W, H, 0.8, found);
  const [outlined] = findingMasks(map, W, H, 0.8, found, 0.5);
  assert.ok(core && outlined);
  assert.ok(rleArea(outlined) > 4 * rleArea(core), `the outline (${rleArea(outlined)} px) holds the rim, not just the core (${rleArea(core)} px)`);
  // The same pixels evaluation would call lesion at 0.5 over this lesion's region, and none of the blob's.
  const cellPx = W / cols;
  const full = upsample(data, cols, rows, Math.round(cols * cellPx), Math.round(rows * cellPx));
  const m = rleDecode(outlined).data;
  let agree = 0, total = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < Math.round(18 * cellPx); x++) {
      const want = full[y * Math.round(cols * cellPx) + x] >= 0.5 ? 1 : 0;
      if (want || m[y * W + x]) total++;
      if (want && m[y * W + x]) agree++;
    }
  }
  assert.ok(agree / total > 0.97, `outline matches the upsampled map (${agree}/${total})`);
  const [bx0] = rleBox(outlined)!;
  const right = rleBox(outlined)![2];
  assert.ok(bx0 >= 7 * cellPx && right <= 18 * cellPx, 'the weak blob beside it is not part of this lesion');
});
