import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureDir } from '../../fs/dirs.ts';
import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';
import { contractRequest, listOption, modelFolder, numberOption, optionalNumber, parseArgs } from '../args.ts';
import { ProgressBar } from '../progress.ts';

const USAGE =
  'studio evaluate --model NAME|DIR --data DIR [--format masks|coco|review] [--negatives DIR[,DIR]] [--split test|val|train] [--limit N] [--threshold T] [--flips none|h|hv] [--calibrate] [--renderings] --out report.json [--no-card]\n  --renderings: also score the images as other devices would render them (colour: white balance, saturation, tone, blur; grey ultrasound: gain, contrast, range, speckle, resolution; nine passes instead of one)\n  --calibrate (validation split only): store the lesion-map threshold with the best Dice in the card; later evaluations use it\n  --flips: average each prediction over its mirror images (h: left–right, hv: all four); default the card\'s';

export const command: Command = {
  summary: 'evaluate a model on a dataset split (FROC, AP50, Dice/IoU, pointing game, latency); records the metrics in its card',
  usage: USAGE,
  async run(args) {
    const { options } = parseArgs(args, { model: 'value', data: 'value', format: 'value', negatives: 'value', split: 'value', limit: 'value', threshold: 'value', flips: 'value', out: 'value', 'no-card': 'flag', calibrate: 'flag', renderings: 'flag' });
    const need = (k: string) => {
      const v = options[k];
      if (typeof v !== 'string') throw new StudioError('INVALID_PAYLOAD', `--${k} is required\nUsage: ${USAGE}`);
      return v;
    };
    const { loadSettings } = await import('../../settings.ts');
    const { readCard, writeCard } = await import('../../detector/io.ts');
    const { bestThreshold, cardMetricsOf, evaluateModel } = await import('../../evaluation/evaluate.ts');
    const { operatingThreshold } = await import('../../evaluation/metrics.ts');
    if (options.calibrate && (options.split ?? 'test') === 'test') throw new StudioError('INVALID_PAYLOAD', '--calibrate picks a threshold, so it must not look at the test split: use --split val');
    const { isFlipSet, FLIP_SETS } = await import('../../detector/flips.ts');
    if (options.flips !== undefined && !isFlipSet(options.flips)) throw new StudioError('INVALID_PAYLOAD', `--flips must be one of ${FLIP_SETS.join(', ')}`);
    const modelArg = need('model');
    const dir = modelFolder(modelArg, loadSettings().modelsDir);
    const name = dir.split('/').pop() as string;
    const out = need('out');
    // One model scored as the Compare panel scores it: the contract's request, schema and defaults.
    const { data, format, negatives, split, limit, renderings } = contractRequest(
      'evaluation.compare',
      { models: [name], data: options.data, format: options.format, negatives: listOption(options, 'negatives'), split: options.split, limit: optionalNumber(options, 'limit'), renderings: options.renderings === true },
      { models: 'model', data: 'data', format: 'format', negatives: 'negatives', split: 'split', limit: 'limit', renderings: 'renderings' },
      USAGE,
    );
    let bar: ProgressBar | undefined;
    const report = await evaluateModel(name, {
      modelDir: dir,
      data,
      format,
      negatives,
      split,
      limit,
      renderings,
      threshold: options.threshold ? numberOption(options, 'threshold', 0.5) : undefined,
      flips: isFlipSet(options.flips) ? options.flips : undefined,
      onProgress(done, total) {
        bar ??= new ProgressBar(`evaluate ${name}`, total);
        bar.tick(done);
      },
    });
    bar?.finish();
    ensureDir(dirname(resolve(out)));
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    if (!options['no-card']) {
      const card = readCard(dir);
      // The card keeps the summary: the curve and the per-image scores stay in the report file.
      const metrics = { ...((card.metrics as Record<string, unknown>) ?? {}), [split]: cardMetricsOf(report) };
      const calibration = options.calibrate
        ? {
            threshold: bestThreshold(report.diceByThreshold),
            // Quiet on lesion-free images where the split has them (at most MAX_FP_PER_NEGATIVE per image), else the best sens@1FP.
            candidateThreshold: operatingThreshold(report.sensitivity1FPByCandidateThreshold, report.fpPerNegativeImageByCandidateThreshold),
            // The thresholds hold for the predictions they were picked on: with these flips.
            flips: report.flips,
            calibration: {
              split,
              flips: report.flips,
              diceByThreshold: report.diceByThreshold,
              sensitivity1FPByCandidateThreshold: report.sensitivity1FPByCandidateThreshold,
              ...(report.fpPerNegativeImageByCandidateThreshold ? { fpPerNegativeImageByCandidateThreshold: report.fpPerNegativeImageByCandidateThreshold, negativeFolders: report.negativeFolders } : {}),
            },
          }
        : {};
      writeCard(dir, { ...card, ...calibration, metrics });
      if (options.calibrate) {
        const t = calibration.threshold as number;
        const c = calibration.candidateThreshold as number;
        process.stdout.write(
          `stored in the card: Dice threshold ${t} (validation Dice ${report.diceByThreshold[t.toFixed(2)].toFixed(3)}), candidate threshold ${c} (validation sens@1FP ${report.sensitivity1FPByCandidateThreshold[c.toFixed(2)].toFixed(3)})\n`,
        );
      }
    }
    const s = (v: number) => v.toFixed(3);
    process.stdout.write(
      `${name} on ${split} (${report.images} images, ${report.lesions} lesions): Dice ${s(report.dice)} IoU ${s(report.iou)} sens@1FP ${s(report.sensitivity1FP)} AP50 ${s(report.ap50)} pointing ${s(report.pointingGame)} of ${s(report.pointingCeiling)} possible (per image ${s(report.pointingGameImages ?? NaN)}) latency ${report.latencyMs.toFixed(1)} ms\n`,
    );
    for (const [label, r] of Object.entries(report.renderings ?? {})) {
      const quiet = r.fpPerNegativeImage === null ? '' : `, ${r.fpPerNegativeImage.toFixed(3)} findings per lesion-free image`;
      const unfamiliar = r.unfamiliarShare === undefined ? '' : `, ${(100 * r.unfamiliarShare).toFixed(1)}% flagged unfamiliar`;
      process.stdout.write(`  rendered ${label}: sens@1FP ${s(r.sensitivity1FP)} (${r.sensitivity1FP >= report.sensitivity1FP ? '+' : ''}${(r.sensitivity1FP - report.sensitivity1FP).toFixed(3)}), Dice ${s(r.dice)}${quiet}${unfamiliar}\n`);
    }
    return 0;
  },
};
