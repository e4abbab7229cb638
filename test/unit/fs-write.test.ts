/** The one atomic writer (main/fs/write.ts) that model files, ONNX exports, appearance statistics and exports use. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeAtomic } from '../../main/fs/write.ts';

const dir = mkdtempSync(join(tmpdir(), 'fs-write-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a file is replaced whole, leaves no temporary file, and a link planted under the final name is replaced, not written through', () => {
  const file = join(dir, 'card.json');
  writeAtomic(file, 'one');
  writeAtomic(file, new Uint8Array([116, 119, 111]));
  assert.equal(readFileSync(file, 'utf8'), 'two');
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'keep me');
  const linked = join(dir, 'linked.json');
  symlinkSync(victim, linked);
  writeAtomic(linked, 'new');
  assert.equal(readFileSync(victim, 'utf8'), 'keep me');
  assert.equal(readFileSync(linked, 'utf8'), 'new');
  assert.deepEqual(readdirSync(dir).sort(), ['card.json', 'linked.json', 'victim.txt']);
  assert.throws(() => writeAtomic(join(dir, 'missing', 'x.json'), 'x'), /ENOENT/);
  assert.deepEqual(readdirSync(dir).sort(), ['card.json', 'linked.json', 'victim.txt'], 'a failed write leaves nothing behind');
});
