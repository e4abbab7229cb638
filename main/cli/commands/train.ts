import { basename } from 'node:path';
import type { Command } from '../index.ts';
import { AUGMENTATION_PRESETS, describeAugmentation, StudioError, TRAINING_DEFAULTS as D } from '../../../preload/contract.ts';
import { contractRequest, listOption, optionalNumber, parseArgs } from '../args.ts';
import { formatPlan } from '../plan.ts';
import { terminalTrainingHooks } from '../training-progress.ts';

const USAGE =
  `studio train --data DIR --variant baseline|se|cbam|nonlocal --out models/NAME [--epochs ${D.epochs}] [--format ${D.format}|coco|review] [--input-size ${D.inputSize}] [--batch ${D.batchSize}] [--lr ${D.learningRate}] [--seed ${D.seed}] [--limit N] [--negatives DIR[,DIR] (folders of lesion-free images, split and trained on beside the data)] [--base MODEL_DIR] [--backend wasm|cpu] [--workers N (data-parallel threads; default one per 4 images of a batch, up to the cores)] [--attention-weight W (supervise the spatial gate nearest the output by the mask; 0 = unsupervised; default ${D.attentionWeight})] [--augment ${AUGMENTATION_PRESETS.join('|')} (${AUGMENTATION_PRESETS.map((p) => `${p}: ${describeAugmentation(p)}`).join('; ')})] [--no-validate]`;

/** The option that sets each field of the `training.start` request. */
const FLAGS = { name: 'name (or the last folder of --out)', data: 'data', format: 'format', variant: 'variant', epochs: 'epochs', batchSize: 'batch', inputSize: 'input-size', learningRate: 'lr', seed: 'seed', limit: 'limit', attentionWeight: 'attention-weight', augmentation: 'augment', negatives: 'negatives' };

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
      negatives: 'value',
      'no-validate': 'flag',
    });
    const out = options.out;
    if (typeof out !== 'string') throw new StudioError('INVALID_PAYLOAD', `--out is required\nUsage: ${USAGE}`, '--out');
    const backend = options.backend as 'wasm' | 'cpu' | undefined;
    if (backend && backend !== 'wasm' && backend !== 'cpu') throw new StudioError('INVALID_PAYLOAD', '--backend must be wasm or cpu', '--backend');
    const num = (k: string) => optionalNumber(options, k);
    // The Training panel's request, validated by the contract's schema with its defaults: one set of rules.
    const request = contractRequest(
      'training.start',
      {
        name: typeof options.name === 'string' ? options.name : basename(out),
        data: options.data,
        format: options.format,
        variant: options.variant,
        epochs: num('epochs'),
        batchSize: num('batch'),
        inputSize: num('input-size'),
        learningRate: num('lr'),
        seed: num('seed'),
        limit: num('limit'),
        attentionWeight: num('attention-weight'),
        augmentation: options.augment,
        negatives: listOption(options, 'negatives'),
      },
      FLAGS,
      USAGE,
    );
    const workers = num('workers');
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) throw new StudioError('INVALID_PAYLOAD', '--workers must be a whole number, 1 or more', '--workers');
    // What the run will use, before it starts; a set that cannot train stops here, with why.
    const { planTraining } = await import('../../datasets/plan.ts');
    const plan = await planTraining({ data: request.data, format: request.format, negatives: request.negatives, limit: request.limit, seed: request.seed });
    process.stderr.write(formatPlan(plan));
    if (plan.problems.length) return 1;
    const { train } = await import('../../training/trainer.ts');
    const { trainOptionsFrom } = await import('../../training/options.ts');
    const { studioVersion } = await import('../../services/index.ts');
    const result = await train(
      trainOptionsFrom(request, {
        data: request.data,
        out,
        base: typeof options.base === 'string' ? options.base : undefined,
        backend,
        workers,
        validate: !options['no-validate'],
        studioVersion: studioVersion(),
      }),
      terminalTrainingHooks(),
    );
    const last = result.history[result.history.length - 1];
    process.stdout.write(
      `${JSON.stringify({ out: result.out, epochs: result.epochs, seconds: Math.round(result.seconds), backend: result.backend, resumedFrom: result.resumedFrom, last })}\n`,
    );
    return 0;
  },
};
