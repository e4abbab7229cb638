/**
 * `studio decode FILE --out DIR`: each frame's stored values (after decompression, before any LUT) as
 * NumPy files frame-0000.npy…, and meta.json with the main header fields. For researchers, and for tests
 * that compare with reference decoders.
 */
import { writeFile } from 'node:fs/promises';
import { ensureDir } from '../../fs/dirs.ts';
import { join, resolve } from 'node:path';
import { StudioError } from '../../../preload/contract.ts';
import { loadImageFile } from '../../imaging/index.ts';
import { encodeNpy } from '../../imaging/npy.ts';
import { dtypeOf } from '../../imaging/pixels/samples.ts';
import { parseArgs } from '../args.ts';
import type { Command } from '../index.ts';

export const command: Command = {
  summary: 'write a DICOM or raster image\'s stored pixel values as NumPy .npy files plus meta.json',
  usage: 'studio decode FILE --out DIR [--frames N]   (frame-0000.npy, …; meta.json; --frames limits how many)',
  async run(args) {
    const { positional, options } = parseArgs(args, { out: 'value', frames: 'value' });
    if (positional.length !== 1) throw new StudioError('INVALID_PAYLOAD', 'give exactly one FILE to decode');
    if (typeof options.out !== 'string') throw new StudioError('INVALID_PAYLOAD', '--out DIR is required');
    const limit = options.frames === undefined ? Infinity : Number(options.frames);
    if (!(limit >= 1)) throw new StudioError('INVALID_PAYLOAD', '--frames must be a positive number');
    const file = resolve(positional[0]);
    const out = resolve(options.out);
    const image = await loadImageFile(file);
    ensureDir(out);
    const frames = Math.min(image.info.frames, limit);
    const written: { file: string; dtype: string; shape: number[] }[] = [];
    for (let i = 0; i < frames; i++) {
      const stored = await image.stored(i);
      const name = `frame-${String(i).padStart(4, '0')}.npy`;
      const npy = encodeNpy(stored.data, stored.shape);
      await writeFile(join(out, name), npy);
      written.push({ file: name, dtype: dtypeOf(stored.data), shape: stored.shape });
    }
    const meta = { ...image.meta(), written };
    await writeFile(join(out, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    process.stdout.write(`${file}: ${frames} frame(s) written to ${out}\n`);
    return 0;
  },
};
