/**
 * The one CSV cell rule (main/core/csv.ts) for every CSV the studio writes. Found by a hunt for hostile
 * inputs (session 30): formulas behind a leading space, a no-break space or a newline went through, and only
 * the free-text columns were checked, though a store edited by hand can put a formula in any text column.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { csvField } from '../../main/core/csv.ts';
import { csvRows } from '../../main/batch/outputs.ts';
import { numberOption, optionalNumber } from '../../main/cli/args.ts';
import { exportStore } from '../../main/export/index.ts';
import { openStore } from '../../main/review/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'export-csv-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a text cell a spreadsheet would run as a formula is defused, whatever whitespace comes first; numbers are left as they are', () => {
  for (const formula of ['=1+2', ' =1+2', '\u00a0=1+3', '\t=x', '\n=x', '\r=x', '+1', '-1+1', '@SUM(A1)', '  @x']) {
    const cell = csvField(formula);
    const value = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
    assert.ok(value.startsWith("'"), `${JSON.stringify(formula)} → ${cell}`);
  }
  for (const plain of ['dr.a', '/data/a.png', 'accepted', '2026-12-06T10:00:00Z']) assert.equal(csvField(plain), plain);
  assert.equal(csvField(-1.5), '-1.5', 'a number is not text');
  // The batch results CSV uses the same rule: a model or path that starts a formula is defused there too.
  const [row] = csvRows({ image: '=HYPERLINK("http://x")', width: 4, height: 4, model: '+model', backend: 'wasm', findings: [] });
  assert.ok(row.startsWith(`"'=HYPERLINK(""http://x"")",4,4,'+model,`), row);
});

test('an export never writes through a link planted where its temporary file would be', () => {
  const store = join(dir, 'store.sqlite');
  const s = openStore(store);
  const run = s.beginRun({ model: 'm', backend: 'wasm' });
  s.recordImageFindings(run, { path: join(dir, 'a.png'), contentHash: 'a'.repeat(64), width: 8, height: 8 }, [{ box: [1, 1, 4, 4], score: 0.9, area: 9 }]);
  s.close();
  const out = join(dir, 'out');
  mkdirSync(out);
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'keep me');
  symlinkSync(victim, join(out, 'review.csv.partial'));
  const result = exportStore(store, 'csv', out);
  assert.equal(readFileSync(victim, 'utf8'), 'keep me');
  assert.match(readFileSync(result.files[0], 'utf8'), /^image_id,/);
});

test('a command-line number is decimal: empty text and hex are refused, not read as 0 and 16', () => {
  for (const raw of ['', ' ', '0x10', '1e', 'abc']) {
    assert.throws(() => numberOption({ threshold: raw }, 'threshold', 0.5), /--threshold must be a number/, JSON.stringify(raw));
    assert.ok(Number.isNaN(optionalNumber({ limit: raw }, 'limit') as number), JSON.stringify(raw));
  }
  for (const [raw, value] of [['0.5', 0.5], ['-2', -2], ['1e3', 1000], ['.25', 0.25], ['7', 7]] as const) assert.equal(numberOption({ x: raw }, 'x', 0), value);
});
