/**
 * Issue 25, item 8 (second half): library internals reached the user as the error ("Cannot read properties
 * of undefined (reading 'quantTableSel')", "codec error code 262168", "Maximum call stack size exceeded").
 * One mapping (main/imaging/errors.ts) turns a library's failure into a message a clinician can act on and
 * keeps the library's words in the error's `detail`, for the log; readable reasons pass through unchanged.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { StudioError } from '../../preload/contract.ts';
import { decodeFrameGuarded, stopDecoder } from '../../main/imaging/codecs/guarded.ts';
import { asImagingError } from '../../main/imaging/errors.ts';

const INTERNALS = /Cannot read propert|Maximum call stack|codec error code|Invalid typed array length|in getn\(\)|TypeError|RangeError|undefined/;
const layout = { rows: 8, columns: 8, samplesPerPixel: 1, bitsAllocated: 8 };

function wrapped(err: unknown, file = 'scan.dcm', what = 'cannot decode frame 0 (JPEG Lossless)'): StudioError & { detail?: string } {
  const e = asImagingError(err, file, what) as StudioError & { detail?: string };
  assert.ok(e instanceof StudioError);
  return e;
}

function assertActionable(e: StudioError & { detail?: string }, raw: RegExp): void {
  assert.equal(e.code, 'DECODE_FAILED');
  assert.doesNotMatch(e.message, INTERNALS, e.message);
  assert.match(e.message, /^scan\.dcm: /);
  assert.match(e.message, /damaged|nested too deeply/);
  assert.match(e.detail ?? '', raw, `detail: ${e.detail}`);
}

test('engine errors, thrown strings and numbers from libraries become one actionable message, the raw text kept in detail', () => {
  assertActionable(wrapped(new TypeError("Cannot read properties of undefined (reading 'quantTableSel')")), /quantTableSel/);
  assertActionable(wrapped(new RangeError('Invalid typed array length: undefined')), /Invalid typed array length/);
  assertActionable(wrapped(new Error('index=-109 in getn()')), /getn/);
  assertActionable(wrapped('dicomParser: something internal went wrong at 0x1f'), /something internal/);
  assertActionable(wrapped(394360), /394360/);
  const deep = wrapped(new RangeError('Maximum call stack size exceeded'), 'scan.dcm', 'unreadable DICOM meta header');
  assertActionable(deep, /Maximum call stack/);
  assert.match(deep.message, /nested too deeply/);
});

test('readable reasons pass through unchanged and carry no detail', () => {
  const e = wrapped(new Error('codestream is 10x10 but the header says 8x8'));
  assert.equal(e.message, 'scan.dcm: cannot decode frame 0 (JPEG Lossless): codestream is 10x10 but the header says 8x8');
  assert.equal(e.detail, undefined);
  const typed = new StudioError('UNSUPPORTED', 'transfer syntax 1.2.3 is not supported');
  assert.equal(wrapped(typed).message, 'scan.dcm: cannot decode frame 0 (JPEG Lossless): transfer syntax 1.2.3 is not supported');
});

test('codec failures that cross the decoder thread are mapped the same way (crafted JPEG Lossless and JPEG-LS frames)', async () => {
  try {
    // A lossless SOF naming component 9 and a scan naming component 1: the decoder reads components[1].quantTableSel.
    const lossless = new Uint8Array([0xff, 0xd8, 0xff, 0xc3, 0, 11, 8, 0, 8, 0, 8, 1, 9, 0x11, 0, 0xff, 0xda, 0, 8, 1, 1, 0, 1, 0, 0, 1, 2, 3, 0xff, 0xd9]);
    const e1 = await decodeFrameGuarded('1.2.840.10008.1.2.4.70', lossless, layout, 0, 'MONOCHROME2').then(() => undefined, (err: unknown) => err);
    assert.ok(e1, 'the damaged lossless frame decoded');
    assertActionable(wrapped(e1), /quantTableSel/);
    // A JPEG-LS frame with a damaged scan: CharLS throws a bare number (an Emscripten exception pointer).
    const jpegLs = new Uint8Array([0xff, 0xd8, 0xff, 0xf7, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0, 0, 1, 2, 3, 0xff, 0xd9]);
    const e2 = await decodeFrameGuarded('1.2.840.10008.1.2.4.80', jpegLs, layout, 0, 'MONOCHROME2').then(() => undefined, (err: unknown) => err);
    assert.ok(e2, 'the damaged JPEG-LS frame decoded');
    assertActionable(wrapped(e2, 'scan.dcm', 'cannot decode frame 0 (JPEG-LS Lossless)'), /charls.*\d+/);
  } finally {
    await stopDecoder();
  }
});
