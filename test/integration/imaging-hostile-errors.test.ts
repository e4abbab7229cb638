/**
 * Issue 25, item 8: the hostile files whose errors surfaced a library's internals ("Invalid typed array
 * length: undefined", "index=-109 in getn()", "Maximum call stack size exceeded", "codec error code
 * 394360") now fail with words a clinician can act on; the library's text stays in the error's detail and
 * goes to the imaging log.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { StudioError } from '../../preload/contract.ts';
import { stopDecoder } from '../../main/imaging/codecs/guarded.ts';
import { createImagingHandlers } from '../../main/imaging/handlers.ts';
import { loadImageFile } from '../../main/imaging/index.ts';
import { referenceData } from '../../main/settings.ts';

const data = referenceData('hostile/dicom');
const skip = 'skip' in data ? `${data.skip} (the hostile reproducers of issue 25)` : false;
const INTERNALS = /Cannot read propert|Maximum call stack|codec error code|Invalid typed array length|in getn\(\)|TypeError|RangeError|undefined/;

/** The file, the words the person sees, and what its library said (which must be in the detail only). */
const CASES: [RegExp, RegExp, RegExp | undefined][] = [
  // The SOF is now read before the library allocates for it: the reason names the sizes, no library text.
  [/^INTERNAL-jpeg-lossless-SOF-65535/, /codestream declares 65535x65535 but the header says 100x100/, undefined],
  [/^INTERNAL-jpegll-getn/, /damaged/, /in getn\(\)/],
  [/^INTERNAL-nested-sq/, /nested too deeply/, /Maximum call stack size exceeded/],
  // The CharLS reproducers are stopped by the decode budget now (imaging-hostile-dicom-budget.test.ts).
];

test('library failures on hostile DICOM files read as damage, with the library text kept for the log', { skip, timeout: 120_000 }, async (t) => {
  if ('skip' in data) return;
  const files = readdirSync(data.dir);
  try {
    for (const [pattern, shown, raw] of CASES) {
      const file = files.find((f) => pattern.test(f));
      assert.ok(file, `no file matching ${pattern} in ${data.dir}`);
      const path = join(data.dir, file);
      const err = await loadImageFile(path).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof StudioError, `${file}: ${String(err)}`);
      t.diagnostic(`${file}: ${err.message} [detail: ${(err as { detail?: string }).detail}]`);
      assert.equal(err.code, 'DECODE_FAILED');
      assert.ok(err.message.startsWith(`${path}: `), err.message);
      assert.doesNotMatch(err.message, INTERNALS);
      assert.match(err.message, shown);
      if (raw) {
        assert.match((err as { detail?: string }).detail ?? '', raw);
        assert.doesNotMatch(JSON.stringify(err), raw, 'the detail does not cross the wire');
      }
    }
  } finally {
    await stopDecoder();
  }
});

test('imaging.open names the file with the actionable message and logs the library text', { skip }, async () => {
  if ('skip' in data) return;
  const file = readdirSync(data.dir).find((f) => f.startsWith('INTERNAL-nested-sq'));
  assert.ok(file);
  const lines: string[] = [];
  const service = createImagingHandlers({ log: (line) => lines.push(line) });
  try {
    const opened = await service.handlers['imaging.open']({ paths: [join(data.dir, file)] });
    assert.equal(opened.images.length, 0);
    assert.equal(opened.errors.length, 1);
    assert.match(opened.errors[0].message, /nested too deeply/);
    assert.doesNotMatch(opened.errors[0].message, INTERNALS);
    assert.ok(lines.some((l) => l.includes(file) && /Maximum call stack size exceeded/.test(l)), lines.join('\n'));
  } finally {
    await service.close();
  }
});
