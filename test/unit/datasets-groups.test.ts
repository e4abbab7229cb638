import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ruleOf, sequenceGroups } from '../../main/datasets/groups.ts';

const im = (path: string, uids?: { study?: string; series?: string }) => ({ id: path, path, ...(uids ? { uids } : {}) });

test('frames of one DICOM series share a group, and a study without series groups by study', () => {
  const { groups, rules } = sequenceGroups([im('/a/1.dcm', { study: 'S', series: 'A' }), im('/a/2.dcm', { study: 'S', series: 'A' }), im('/a/3.dcm', { study: 'S', series: 'B' }), im('/b/4.dcm', { study: 'T' })]);
  assert.equal(groups.get('/a/1.dcm'), groups.get('/a/2.dcm'));
  assert.notEqual(groups.get('/a/1.dcm'), groups.get('/a/3.dcm'));
  assert.equal(ruleOf(groups.get('/b/4.dcm')), 'study');
  assert.deepEqual(rules.sort(), ['series', 'study']);
});

test('frames exported as one folder per video sequence group by folder', () => {
  const { groups, rules } = sequenceGroups([im('/site/seq01/f1.png'), im('/site/seq01/f2.png'), im('/site/seq02/f1.png')]);
  assert.equal(groups.get('/site/seq01/f1.png'), groups.get('/site/seq01/f2.png'));
  assert.notEqual(groups.get('/site/seq01/f1.png'), groups.get('/site/seq02/f1.png'));
  assert.deepEqual(rules, ['folder']);
});

test('frame-numbered names in one folder group by their sequence name, but one shared prefix or unrelated names group nothing', () => {
  const seqs = sequenceGroups([im('/f/case3_0001.png'), im('/f/case3_0002.png'), im('/f/case7_0001.png'), im('/f/case7_0002.png')]);
  assert.equal(seqs.groups.get('/f/case3_0001.png'), 'name:case3');
  assert.equal(seqs.groups.get('/f/case7_0002.png'), 'name:case7');
  // One video's frames all named frame_NNNN: the name tells no sequence apart, so each frame stands alone.
  const one = sequenceGroups([im('/f/frame_0001.png'), im('/f/frame_0002.png'), im('/f/frame_0003.png')]);
  assert.equal(one.groups.size, 0);
  assert.deepEqual(one.rules, ['image']);
  // A long sequence beside a one-frame one: the long one still stays whole.
  const long = sequenceGroups([...Array.from({ length: 30 }, (_, i) => im(`/f/seqA_${String(i).padStart(4, '0')}.png`)), im('/f/seqB_0001.png')]);
  assert.equal(long.groups.get('/f/seqA_0000.png'), 'name:seqA');
  assert.equal(long.groups.get('/f/seqA_0029.png'), 'name:seqA');
  assert.equal(long.groups.has('/f/seqB_0001.png'), false, 'a one-frame sequence stands alone');
    // Kvasir-style random ids that happen to end in digits are not sequences.
  const random = sequenceGroups([im('/k/cju0qkwl35piu0993l0dewei2.jpg'), im('/k/cju1cqc7n8m4u0993g8kw4u3o.jpg')]);
  assert.equal(random.groups.size, 0);
});

test("a folder's manifest.csv groups near-duplicate frames before any other rule", () => {
  const dir = mkdtempSync(join(tmpdir(), 'groups-'));
  try {
    writeFileSync(join(dir, 'manifest.csv'), 'file,group\na.jpg,g1\nb.jpg,g1\nc.jpg,g2\n');
    const { groups, rules } = sequenceGroups([im(join(dir, 'a.jpg')), im(join(dir, 'b.jpg')), im(join(dir, 'c.jpg'))]);
    assert.equal(groups.get(join(dir, 'a.jpg')), groups.get(join(dir, 'b.jpg')));
    assert.notEqual(groups.get(join(dir, 'a.jpg')), groups.get(join(dir, 'c.jpg')));
    assert.deepEqual(rules, ['manifest']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
