import type { Command } from '../index.ts';
import { TRAINING_DEFAULTS as D } from '../../../preload/contract.ts';
import { contractRequest, listOption, optionalNumber, parseArgs } from '../args.ts';
import { formatPlan } from '../plan.ts';

const USAGE = `studio plan --data DIR [--format ${D.format}|coco|review] [--negatives DIR[,DIR]] [--limit N] [--seed ${D.seed}] [--json]`;

/** The option that sets each field of the `training.plan` request. */
const FLAGS = { data: 'data', format: 'format', negatives: 'negatives', limit: 'limit', seed: 'seed' };

export const command: Command = {
  summary: 'what `studio train` with these settings would train on (images, lesions, negatives per split part), and why it cannot',
  usage: USAGE,
  async run(args) {
    const { options } = parseArgs(args, { data: 'value', format: 'value', negatives: 'value', limit: 'value', seed: 'value', json: 'flag' });
    const request = contractRequest(
      'training.plan',
      { data: options.data, format: options.format, negatives: listOption(options, 'negatives'), limit: optionalNumber(options, 'limit'), seed: optionalNumber(options, 'seed') },
      FLAGS,
      USAGE,
    );
    const { planTraining } = await import('../../datasets/plan.ts');
    const plan = await planTraining(request);
    process.stdout.write(options.json ? `${JSON.stringify(plan)}\n` : formatPlan(plan));
    // A set that cannot train is a failure a script can test for.
    return plan.problems.length ? 1 : 0;
  },
};
