import { basename, resolve } from 'node:path';
import type { Command } from '../index.ts';
import { ADAPT_DEFAULTS as D, type SiteAdaptation, StudioError } from '../../../preload/contract.ts';
import { contractRequest, listOption, modelFolder, optionalNumber, parseArgs } from '../args.ts';
import { terminalTrainingHooks } from '../training-progress.ts';

const USAGE =
  `studio adapt --base NAME|DIR [--name NAME (default <base>-site)] [--store FILE (default the studio's review store)] [--epochs ${D.epochs}] [--lr ${D.learningRate}] [--patience ${D.patience} (epochs without a better validation score before stopping)] [--seed ${D.seed}] [--negatives DIR[,DIR]|none (lesion-free folders kept in the mix; default the base's own)] [--input-size N (default the base's)]`;

/** The option that sets each field of the `training.adapt` request. */
const FLAGS = { name: 'name', baseModel: 'base', store: 'store', epochs: 'epochs', learningRate: 'lr', patience: 'patience', seed: 'seed', negatives: 'negatives', inputSize: 'input-size' };

const fixed = (v: number | null | undefined, digits = 3) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');

/** Base against adapted on the site's held-out split, as the card records them. */
export function formatSiteComparison(site: SiteAdaptation, baseName: string, adaptedName: string): string {
  const { base, adapted } = site.evaluation;
  const rows = [
    ['', baseName, adaptedName],
    ['Dice', fixed(base.dice), fixed(adapted.dice)],
    ['sensitivity @1 FP/image', fixed(base.sensitivity1FP), fixed(adapted.sensitivity1FP)],
    ['FP per lesion-free image', fixed(base.fpPerNegativeImage, 2), fixed(adapted.fpPerNegativeImage, 2)],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  const held = site.counts.test;
  lines.unshift(`on the site's held-out split (${held.images} images: ${held.lesionImages} with ${held.lesions} lesions, ${held.negatives} lesion-free):`);
  lines.push(site.verdict);
  lines.push(site.better ? `${adaptedName} is better on this site's held-out sequences: use it.` : `${adaptedName} is not better than the base: keep using ${baseName}.`);
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: "adapt a model to this site: fine-tune a base on the review store's reviewed images, then score base and adapted on the site's held-out sequences",
  usage: USAGE,
  async run(args) {
    const { options } = parseArgs(args, { name: 'value', base: 'value', store: 'value', epochs: 'value', lr: 'value', patience: 'value', seed: 'value', negatives: 'value', 'input-size': 'value' });
    if (typeof options.base !== 'string') throw new StudioError('INVALID_PAYLOAD', `--base is required\nUsage: ${USAGE}`, '--base');
    const { loadSettings } = await import('../../settings.ts');
    const settings = loadSettings();
    // A path or a name in the models folder, as --model is everywhere else; the request names the model.
    const baseDir = modelFolder(options.base, settings.modelsDir);
    const baseName = basename(baseDir);
    const num = (k: string) => optionalNumber(options, k);
    const negatives = options.negatives === 'none' ? [] : listOption(options, 'negatives');
    const request = contractRequest(
      'training.adapt',
      {
        name: typeof options.name === 'string' ? options.name : `${baseName}-site`,
        baseModel: baseName,
        store: options.store,
        epochs: num('epochs'),
        learningRate: num('lr'),
        patience: num('patience'),
        seed: num('seed'),
        negatives,
        inputSize: num('input-size'),
      },
      FLAGS,
      USAGE,
    );
    const { childPath } = await import('../../fs/names.ts');
    const { defaultStorePath } = await import('../../review/store.ts');
    const { adaptModel } = await import('../../training/adapt.ts');
    const { studioVersion } = await import('../../services/index.ts');
    // The name is joined into the models folder: checked first, so '..' can never write beside it.
    const out = childPath(settings.modelsDir, request.name, '--name');
    // Never over a model that exists, least of all the base: a failed or cancelled adaptation removes its folder.
    const { existsSync } = await import('node:fs');
    if (existsSync(resolve(out, 'model.json')) || resolve(out) === resolve(baseDir)) throw new StudioError('INVALID_PAYLOAD', `a model named '${request.name}' already exists; pick another --name`, '--name');
    const store = resolve(request.store ?? defaultStorePath(settings));
    const { site } = await adaptModel(
      { ...request, out, base: baseDir, store, studioVersion: studioVersion(), ...(request.negatives ? { negatives: request.negatives.map((n) => resolve(n)) } : {}) },
      terminalTrainingHooks(),
    );
    process.stderr.write(formatSiteComparison(site, request.baseModel, request.name));
    process.stdout.write(`${JSON.stringify({ out, better: site.better, verdict: site.verdict, base: site.evaluation.base, adapted: site.evaluation.adapted })}\n`);
    return 0;
  },
};
