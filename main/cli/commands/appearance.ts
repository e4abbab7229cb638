import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';
import { listOption, modelFolder, parseArgs } from '../args.ts';
import { ProgressBar } from '../progress.ts';

const USAGE = 'studio appearance --model NAME|DIR [--data DIR] [--format masks|coco|review] [--negatives DIR[,DIR]] [--json]\n  fits the appearance score on the model\'s training images and calibrates it on its validation images (its stored split);\n  --data/--negatives default to the card\'s. Training does this for every model it makes.';

export const command: Command = {
  summary: 'fit a model\'s appearance score (how unlike its training images an image looks to it) on its own split',
  usage: USAGE,
  async run(args) {
    const { options } = parseArgs(args, { model: 'value', data: 'value', format: 'value', negatives: 'value', json: 'flag' });
    if (typeof options.model !== 'string') throw new StudioError('INVALID_PAYLOAD', `--model is required\nUsage: ${USAGE}`);
    const format = options.format;
    if (format !== undefined && format !== 'masks' && format !== 'coco' && format !== 'review') throw new StudioError('INVALID_PAYLOAD', `--format must be masks, coco or review\nUsage: ${USAGE}`);
    const { loadSettings } = await import('../../settings.ts');
    const { refitAppearance } = await import('../../training/appearance.ts');
    const dir = modelFolder(options.model, loadSettings().modelsDir);
    let bar: ProgressBar | undefined;
    const a = await refitAppearance(dir, {
      ...(typeof options.data === 'string' ? { data: options.data } : {}),
      ...(format ? { format } : {}),
      ...(listOption(options, 'negatives') ? { negatives: listOption(options, 'negatives') } : {}),
      onProgress(done, total) {
        bar ??= new ProgressBar(`appearance ${dir.split('/').pop()}`, total);
        bar.tick(done);
      },
    });
    bar?.finish();
    const thresholds = Object.entries(a.byFlips).map(([f, v]) => `${f} ${v.threshold} (${v.heldOut.atQuantile} × ${a.margin})`);
    process.stdout.write(options.json ? `${JSON.stringify(a)}\n` : `appearance score fitted on ${a.fitImages} training images (${a.features} features of ${a.layers.join(', ')}); thresholds by flips, the ${a.quantile} quantile of ${a.calibrationImages} validation images × margin: ${thresholds.join(', ')}\n`);
    return 0;
  },
};
