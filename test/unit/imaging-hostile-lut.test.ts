/**
 * Segmented palette LUTs from hostile files (issue 25, item 1): indirect segments that refer to each other
 * must cost time linear in the table, never K⁴·M; references to segments not yet defined (PS3.3 C.7.9.2.3:
 * an indirect segment re-uses previously defined segments) are refused with a typed error; conforming
 * tables expand exactly as a plain recursive reading (pydicom's, GDCM's) expands them.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { StudioError } from '../../preload/contract.ts';
import { expandSegmentedLut } from '../../main/imaging/pixels/lut.ts';

/** The plain recursive reading: each indirect segment re-expands the segments it names, from the current last value. */
function naive(words: number[], entries: number): { table: number[]; produced: number } {
  const out: number[] = [];
  const run = (start: number, max: number): void => {
    let i = start;
    for (let n = 0; n < max && i + 1 < words.length; n++) {
      const [op, len] = [words[i], words[i + 1]];
      if (op === 0) {
        out.push(...words.slice(i + 2, i + 2 + len));
        i += 2 + len;
      } else if (op === 1) {
        const y0 = out.length ? out[out.length - 1] : 0;
        for (let k = 1; k <= len; k++) out.push(Math.round(y0 + ((words[i + 2] - y0) * k) / len));
        i += 3;
      } else {
        run(words[i + 2] + words[i + 3] * 65536, len);
        i += 4;
      }
    }
  };
  run(0, Infinity);
  const table = out.slice(0, entries);
  while (table.length < entries) table.push(table[table.length - 1] ?? 0);
  return { table, produced: out.length };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const typed = (pattern: RegExp) => (e: unknown) => e instanceof StudioError && e.code === 'DECODE_FAILED' && pattern.test(e.message);

test('indirect segments copy earlier segments; a copied linear segment starts from the value before the copy', () => {
  // discrete [50], linear to 100 over 2, then a copy of the linear segment alone: it starts from 100 now
  assert.deepEqual([...expandSegmentedLut(new Uint16Array([0, 1, 50, 1, 2, 100, 2, 1, 3, 0]), 5)], [50, 75, 100, 100, 100]);
  // discrete [0, 112], linear to 192 over 5, then a copy of both
  assert.deepEqual(
    [...expandSegmentedLut(new Uint16Array([0, 2, 0, 112, 1, 5, 192, 2, 2, 0, 0]), 14)],
    [0, 112, 128, 144, 160, 176, 192, 0, 112, 128, 144, 160, 176, 192],
  );
});

test('conforming tables with nested indirect segments expand as the plain recursive reading does (seeded, 3000 tables)', () => {
  const random = rng(25_1);
  for (let trial = 0; trial < 3000; trial++) {
    const words: number[] = [];
    const starts: number[] = [];
    const segments = 1 + Math.floor(random() * 10);
    for (let k = 0; k < segments; k++) {
      starts.push(words.length);
      const kind = k === 0 ? 0 : Math.floor(random() * 3);
      if (kind === 0) {
        const len = Math.floor(random() * 4);
        words.push(0, len, ...Array.from({ length: len }, () => Math.floor(random() * 65536)));
      } else if (kind === 1) words.push(1, Math.floor(random() * 5), Math.floor(random() * 65536));
      else {
        const from = Math.floor(random() * k);
        const count = 1 + Math.floor(random() * (k - from));
        words.push(2, count, starts[from] & 0xffff, starts[from] >>> 16);
      }
    }
    const entries = 1 + Math.floor(random() * 80);
    const expected = naive(words, entries);
    if (expected.produced === 0) {
      // A table whose segments hold no entry at all is refused; every other conforming table expands.
      assert.throws(() => expandSegmentedLut(new Uint16Array(words), entries), typed(/no entries/), `trial ${trial}: [${words}]`);
      continue;
    }
    assert.deepEqual([...expandSegmentedLut(new Uint16Array(words), entries)], expected.table, `trial ${trial}: [${words}] for ${entries} entries`);
  }
});

test('nested indirect segments that copy empty segments cost linear time, not K⁴·M (before: seconds)', () => {
  // Level 0: M empty discrete segments; levels 1-4: K indirect segments, each copying all K (or M) of the
  // level below; then one real entry. The recursive reading visits K⁴·M ≈ 3·10^8 segments.
  const K = 50;
  const M = 50;
  const words: number[] = [];
  let level = 0;
  for (let m = 0; m < M; m++) words.push(0, 0);
  for (let depth = 1; depth <= 4; depth++) {
    const start = words.length;
    const count = depth === 1 ? M : K;
    for (let k = 0; k < K; k++) words.push(2, count, level & 0xffff, level >>> 16);
    level = start;
  }
  words.push(0, 3, 7, 8, 9);
  const started = performance.now();
  const table = expandSegmentedLut(new Uint16Array(words), 256);
  const ms = performance.now() - started;
  assert.deepEqual([...table.subarray(0, 4)], [7, 8, 9, 9]);
  assert.ok(ms < 100, `expansion took ${ms.toFixed(0)} ms`);
});

test('an indirect segment may copy indirect segments at any depth: a table doubled 16 times fills 65536 entries at once', () => {
  // [5, 6], then segment k copies segments 0..k-1: the output doubles with each.
  const words: number[] = [0, 2, 5, 6];
  for (let k = 1; k <= 16; k++) words.push(2, k, 0, 0);
  const started = performance.now();
  const table = expandSegmentedLut(new Uint16Array(words), 65536);
  const ms = performance.now() - started;
  assert.equal(table.length, 65536);
  assert.ok(table.every((v, i) => v === (i % 2 ? 6 : 5)));
  assert.ok(ms < 100, `expansion took ${ms.toFixed(0)} ms`);
});

test('indirect segments that refer forward, to themselves or into the middle of a segment are refused with a typed error', () => {
  // The hostile file's shape: every segment copies 30 segments further on (HANG-palette-segmented-lut-108KB.dcm).
  const forward: number[] = [];
  for (let level = 0; level < 4; level++) for (let k = 0; k < 30; k++) forward.push(2, 30, (level + 1) * 120, 0);
  for (let k = 0; k < 30; k++) forward.push(0, 0);
  const started = performance.now();
  assert.throws(() => expandSegmentedLut(new Uint16Array(forward), 65536), typed(/refers to word 120, a segment not yet defined/));
  assert.ok(performance.now() - started < 100);
  // a copy that includes itself
  assert.throws(() => expandSegmentedLut(new Uint16Array([0, 1, 9, 2, 2, 0, 0]), 8), typed(/copies 2 segment\(s\) from word 0, past the segments defined before it/));
  // an offset inside the discrete segment's values
  assert.throws(() => expandSegmentedLut(new Uint16Array([0, 3, 1, 2, 3, 2, 1, 3, 0]), 8), typed(/refers to word 3, which is not the start of a segment/));
  // an unknown opcode
  assert.throws(() => expandSegmentedLut(new Uint16Array([0, 1, 9, 7, 1, 0]), 8), typed(/unknown segment type 7/));
});

test('segmented data longer than any 65536-entry table needs are refused before expansion', () => {
  const words = new Uint16Array(3 * 1024 * 1024); // 3 Mi words of empty discrete segments
  assert.throws(() => expandSegmentedLut(words, 65536), typed(/words/));
});
