/**
 * A deflated dataset (Deflated Explicit VR Little Endian) carries native pixel data only, so its Pixel Data
 * can be no larger than the image its header declares. One whose Pixel Data had undefined length escaped
 * that bound: a 1 MB file inflated to the 1 GiB limit for a dataset and was then copied whole (2.2 GB),
 * found by a hunt for hostile files (session 30). It is now bounded by the declared image like any other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { StudioError } from '../../preload/contract.ts';
import { loadImageBytes } from '../../main/imaging/index.ts';

const DEFLATED = '1.2.840.10008.1.2.1.99';
const LONG = new Set(['OB', 'OW', 'UN', 'SQ', 'UT']);

function element(group: number, el: number, vr: string, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value.length % 2 ? `${value}${vr === 'UI' ? '\0' : ' '}` : value, 'latin1') : value;
  const head = Buffer.alloc(LONG.has(vr) ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(el, 2);
  head.write(vr, 4, 'latin1');
  if (LONG.has(vr)) head.writeUInt32LE(v.length, 8);
  else head.writeUInt16LE(v.length, 6);
  return Buffer.concat([head, v]);
}
const us = (group: number, el: number, n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return element(group, el, 'US', b);
};

function part10(dataset: Buffer, ts: string): Buffer {
  const meta = Buffer.concat([element(2, 1, 'OB', Buffer.from([0, 1])), element(2, 2, 'UI', '1.2.840.10008.5.1.4.1.1.7'), element(2, 3, 'UI', '1.2.3.4'), element(2, 0x10, 'UI', ts)]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(meta.length);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element(2, 0, 'UL', length), meta, dataset]);
}

/** An 8×8 grey secondary capture, its Pixel Data as given, then `trailing` more bytes in a private element. */
function dataset(pixel: Buffer, trailing = 0): Buffer {
  const tail = Buffer.alloc(12);
  tail.writeUInt16LE(0x7fe1, 0);
  tail.writeUInt16LE(0x0010, 2);
  tail.write('OB', 4, 'latin1');
  tail.writeUInt32LE(trailing, 8);
  return Buffer.concat([
    element(8, 0x16, 'UI', '1.2.840.10008.5.1.4.1.1.7'),
    element(8, 0x60, 'CS', 'OT'),
    us(0x28, 2, 1),
    element(0x28, 4, 'CS', 'MONOCHROME2'),
    us(0x28, 0x10, 8),
    us(0x28, 0x11, 8),
    us(0x28, 0x100, 8),
    us(0x28, 0x101, 8),
    us(0x28, 0x102, 7),
    us(0x28, 0x103, 0),
    pixel,
    ...(trailing ? [tail, Buffer.alloc(trailing)] : []),
  ]);
}

test('a deflated dataset whose Pixel Data has undefined length is bounded by the image it declares, not inflated to a gigabyte', { timeout: 30_000 }, async () => {
  const head = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const item = (data: Buffer) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(0xe000, 2);
    b.writeUInt32LE(data.length, 4);
    return Buffer.concat([b, data]);
  };
  const delimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  const pixel = Buffer.concat([head, item(Buffer.alloc(0)), item(Buffer.alloc(64)), delimiter]);
  const file = part10(deflateRawSync(dataset(pixel, 200 * 1024 ** 2), { level: 9 }), DEFLATED);
  assert.ok(file.length < 400_000, `${file.length} bytes`);
  await assert.rejects(loadImageBytes(file, 'undefined-length.dcm'), (e: unknown) => {
    assert.ok(e instanceof StudioError, String(e));
    assert.equal(e.code, 'TOO_LARGE');
    assert.match(e.message, /inflates to more than \d+ bytes, what its header declares/);
    // The bound is the dataset's head, the declared 8×8 image and the margins: tens of MB, not 200.
    const bound = Number(/more than (\d+) bytes/.exec(e.message)?.[1]);
    assert.ok(bound < 20 * 1024 ** 2, `${bound}`);
    return true;
  });
});

test('a deflated dataset with its 8×8 image and a small trailing element still opens', async () => {
  const pixel = element(0x7fe0, 0x10, 'OB', Buffer.from(Array.from({ length: 64 }, (_, i) => i * 4)));
  const file = part10(deflateRawSync(dataset(pixel, 1024)), DEFLATED);
  const image = await loadImageBytes(file, 'small.dcm');
  const frame = await image.frame(0);
  assert.deepEqual([image.info.rows, image.info.columns, frame.data[1]], [8, 8, 4]);
});
