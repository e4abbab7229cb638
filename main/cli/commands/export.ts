import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';
import { parseArgs } from '../args.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, loadSettings } from '../../settings.ts';
import { defaultStorePath } from '../../review/store.ts';
import { type ExportFormat, FORMATS, exportStore } from '../../export/index.ts';

// Not services/index.ts's studioVersion: importing it would load every service (TensorFlow.js included).
const version = () => (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const command: Command = {
  summary: 'export reviewed findings as COCO JSON, CSV, or DICOM SR (TID 1500)',
  usage: `studio export --format ${FORMATS.join('|')} --out DIR [--store FILE]

  --store FILE   the review store (default: <STUDIO_HOME>/review.sqlite)
  --format       coco: annotations.coco.json with the accepted, edited and added findings (boxes, RLE masks)
                 csv: review.csv, one row per finding with its decision
                 dicom-sr: one Comprehensive SR (TID 1500) per DICOM source image with confirmed findings
  --out DIR      where to write (created if missing)`,
  async run(args) {
    const { options, positional } = parseArgs(args, { store: 'value', format: 'value', out: 'value' });
    if (positional.length) throw new StudioError('INVALID_PAYLOAD', `unexpected argument '${positional[0]}'`);
    const format = options.format;
    if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format)) throw new StudioError('INVALID_PAYLOAD', `--format must be one of ${FORMATS.join(', ')}`, 'format');
    if (typeof options.out !== 'string') throw new StudioError('INVALID_PAYLOAD', '--out DIR is required', 'out');
    const store = typeof options.store === 'string' ? options.store : defaultStorePath(loadSettings());
    const result = exportStore(store, format as ExportFormat, options.out, version());
    for (const f of result.files) process.stdout.write(`wrote ${f}\n`);
    for (const s of result.skipped) process.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
    process.stdout.write(`${format}: ${result.findings} findings on ${result.images} images\n`);
    if (format === 'dicom-sr' && result.files.length === 0) {
      process.stderr.write('no DICOM SR written: no DICOM source image has an accepted, edited or added finding\n');
      return 1;
    }
    return 0;
  },
};
