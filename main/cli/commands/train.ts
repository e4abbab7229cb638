import { basename } from 'node:path';
import type { Command } from '../index.ts';
import { AUGMENTATION_PRESETS, describeAugmentation, requests, StudioError, VARIANTS, type AugmentationPreset, type Variant } from '../../../preload/contract.ts';
import { numberOption, parseArgs } from '../args.ts';
import { ProgressBar } from '../progress.ts';

const USAGE =
  `studio train --data DIR --variant baseline|se|cbam|nonlocal --epochs N --out models/NAME [--format masks|coco|review] [--input-size 256] [--batch 8] [--lr 0.001] [--seed 42] [--limit N] [--base MODEL_DIR] [--backend wasm|cpu] [--workers N (data-parallel threads)] [--attention-weight W (supervise the spatial gate nearest the output by the mask; 0 = unsupervised; default 0.5)] [--augment standard|strong (standard: ${describeAugmentation('standard')}; strong: ${describeAugmentation('strong')})] [--no-validate]`;

export const command: Command = {
  summary: 'train a detector variant on a dataset (resumes from its checkpoint after an interruption)',
  usage: USAGE,
  async run(args) {
    const { options } = parseArgs(args, {
      data: 'value',
      variant: 'value',
      epochs: 'value',
      out: 'value',
      format: 'value',
      'input-size': 'value',
      batch: 'value',
      lr: 'value',
      seed: 'value',
      limit: 'value',
      base: 'value',
      backend: 'value',
      name: 'value',
      workers: 'value',
      'attention-weight': 'value',
      augment: 'value',
      'no-validate': 'flag',
    });
    const need = (k: string) => {
      const v = options[k];
      if (typeof v !== 'string') throw new StudioError('INVALID_PAYLOAD', `--${k} is required\nUsage: ${USAGE}`);
      return v;
    };
    const variant = need('variant') as Variant;
    if (!VARIANTS.includes(variant)) throw new StudioError('INVALID_PAYLOAD', `--variant must be one of ${VARIANTS.join(', ')}`);
    const format = (options.format ?? 'masks') as 'masks' | 'coco' | 'review';
    if (!['masks', 'coco', 'review'].includes(format)) throw new StudioError('INVALID_PAYLOAD', '--format must be masks, coco or review');
    const backend = options.backend as 'wasm' | 'cpu' | undefined;
    if (backend && backend !== 'wasm' && backend !== 'cpu') throw new StudioError('INVALID_PAYLOAD', '--backend must be wasm or cpu');
    const out = need('out');
    const epochs = numberOption(options, 'epochs', NaN);
    if (!Number.isInteger(epochs) || epochs < 1) throw new StudioError('INVALID_PAYLOAD', '--epochs must be a positive integer');
    const attentionWeight = options['attention-weight'] === undefined ? undefined : numberOption(options, 'attention-weight', NaN);
    // The same bounds as the IPC contract's, so the CLI and the Training panel accept the same runs.
    if (attentionWeight !== undefined && !requests['training.start'].shape.attentionWeight.safeParse(attentionWeight).success) {
      throw new StudioError('INVALID_PAYLOAD', '--attention-weight must be a number from 0 to 10');
    }
    const augmentation = (options.augment ?? 'standard') as AugmentationPreset;
    if (!AUGMENTATION_PRESETS.includes(augmentation)) throw new StudioError('INVALID_PAYLOAD', `--augment must be one of ${AUGMENTATION_PRESETS.join(', ')}`);
    const { train } = await import('../../training/trainer.ts');
    const { studioVersion } = await import('../../services/index.ts');
    let bar: ProgressBar | undefined;
    let barEpoch = -1;
    // The epoch whose summary `log` printed: its closing progress event repeats it, and must not open a new bar.
    let loggedEpoch = -1;
    const result = await train(
      {
        name: typeof options.name === 'string' ? options.name : basename(out),
        data: need('data'),
        format,
        variant,
        epochs,
        batchSize: numberOption(options, 'batch', 8),
        inputSize: numberOption(options, 'input-size', 256),
        learningRate: numberOption(options, 'lr', 1e-3),
        seed: numberOption(options, 'seed', 42),
        limit: options.limit ? numberOption(options, 'limit', 0) : undefined,
        base: typeof options.base === 'string' ? options.base : undefined,
        out,
        backend,
        workers: numberOption(options, 'workers', 1),
        attentionWeight,
        augmentation,
        validate: !options['no-validate'],
        studioVersion: studioVersion(),
      },
      {
        progress(p) {
          if (p.state !== 'running' || p.step === 0 || p.message) {
            if (p.message && p.step === 0) process.stderr.write(`${p.message}\n`);
            return;
          }
          if (p.epoch === loggedEpoch) return;
          if (p.epoch !== barEpoch) {
            bar?.finish();
            barEpoch = p.epoch;
            bar = new ProgressBar(`epoch ${p.epoch}/${p.epochs}`, p.steps, 'step');
          }
          bar?.tick(p.step, `loss ${p.loss.toFixed(4)} ${p.imagesPerSec.toFixed(1)} img/s`);
        },
        gate: async () => 'go',
        log: (line) => {
          bar?.finish();
          bar = undefined;
          if (barEpoch !== -1) loggedEpoch = barEpoch;
          barEpoch = -1;
          process.stderr.write(`${line}\n`);
        },
      },
    );
    const last = result.history[result.history.length - 1];
    process.stdout.write(
      `${JSON.stringify({ out: result.out, epochs: result.epochs, seconds: Math.round(result.seconds), backend: result.backend, resumedFrom: result.resumedFrom, last })}\n`,
    );
    return 0;
  },
};
