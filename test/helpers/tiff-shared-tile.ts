/**
 * A little-endian greyscale tiled TIFF whose every tile entry points at one PackBits blob of `blobBytes`
 * no-op codes (-128) ahead of the tile's 16×16 samples: a few MB of file that has a decoder read the blob
 * again for every tile, so its work grows with tiles × blob while the file does not. libvips decodes it
 * (slowly) without complaint; only a time budget stops it.
 */
export function tiffSharedTile(width: number, height: number, blobBytes: number): Buffer {
  const tile = 16;
  const tiles = Math.ceil(width / tile) * Math.ceil(height / tile);
  // PackBits: -128 is a no-op; then runs of 128 literal... simpler: repeat runs (-127 = 128 copies) of 0.
  const samples = tile * tile;
  const runs: number[] = [];
  for (let left = samples; left > 0; left -= 128) runs.push(257 - Math.min(128, left), 0);
  const blob = Buffer.concat([Buffer.alloc(blobBytes, 0x80), Buffer.from(runs)]);
  const tags: [number, number, number, number][] = [
    // tag, type (3 SHORT, 4 LONG), count, value (or offset, patched below)
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, 1, 8],
    [259, 3, 1, 32773],
    [262, 3, 1, 1],
    [277, 3, 1, 1],
    [322, 3, 1, tile],
    [323, 3, 1, tile],
    [324, 4, tiles, 0],
    [325, 4, tiles, 0],
  ];
  const ifdAt = 8;
  const ifdSize = 2 + tags.length * 12 + 4;
  const offsetsAt = ifdAt + ifdSize;
  const countsAt = offsetsAt + 4 * tiles;
  const blobAt = countsAt + 4 * tiles;
  const out = Buffer.alloc(blobAt + blob.length);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdAt, 4);
  out.writeUInt16LE(tags.length, ifdAt);
  tags.forEach(([tag, type, count, value], k) => {
    const at = ifdAt + 2 + 12 * k;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    const v = tag === 324 ? offsetsAt : tag === 325 ? countsAt : value;
    if (type === 3 && count === 1) out.writeUInt16LE(v, at + 8);
    else out.writeUInt32LE(v, at + 8);
  });
  for (let k = 0; k < tiles; k++) {
    out.writeUInt32LE(blobAt, offsetsAt + 4 * k);
    out.writeUInt32LE(blob.length, countsAt + 4 * k);
  }
  blob.copy(out, blobAt);
  return out;
}
