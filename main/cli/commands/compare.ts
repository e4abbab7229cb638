import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureDir } from '../../fs/dirs.ts';
import type { Command } from '../index.ts';
import { StudioError, type EvaluationReport } from '../../../preload/contract.ts';
import { bestValue, comparability } from '../../../preload/comparability.ts';
import { contractRequest, listOption, modelFolder, optionalNumber, parseArgs } from '../args.ts';
import { ProgressBar } from '../progress.ts';

const USAGE = [
  'studio compare --models A,B[,C…] --data DIR [--format masks|coco|review] [--negatives DIR[,DIR]] [--split test|val|train] [--common] [--limit N] --out report.json',
  "  --models  two or more models (names in the models folder, or paths to model folders), comma-separated",
  "  --common  score every model on the images that lie in all of their splits (for the test split: images none",
  "            of them trained on); without it each model is scored on its own split, as `studio evaluate` does",
  '  Writes every report (with per-image scores) to --out and prints the metric table; cards are not changed.',
].join('\n');

/** The table's columns: what Compare shows, less the wide FROC spread (the report has all seven points). */
const COLUMNS: { label: string; value: (r: Row) => number; higher: boolean; digits?: number }[] = [
  { label: 'Dice', value: (r) => r.dice, higher: true },
  { label: 'IoU', value: (r) => r.iou, higher: true },
  { label: 'AP50', value: (r) => r.ap50, higher: true },
  { label: 'sens@0.5', value: (r) => sensitivityAt(r, 0.5), higher: true },
  { label: 'sens@1', value: (r) => sensitivityAt(r, 1), higher: true },
  { label: 'sens@2', value: (r) => sensitivityAt(r, 2), higher: true },
  { label: 'pointing', value: (r) => r.pointingGame, higher: true },
  { label: 'ms', value: (r) => r.latencyMs, higher: false, digits: 1 },
];

/** Shown when lesion-free images were scored: what each model finds on them, as the Compare panel shows it. */
const NEGATIVE_COLUMNS: typeof COLUMNS = [
  { label: 'FP/lesion-free', value: (r) => r.fpPerNegativeImage ?? NaN, higher: false, digits: 2 },
  { label: 'with finding', value: (r) => r.negativesWithFindings ?? NaN, higher: false },
  { label: 'AUROC', value: (r) => r.imageAUROC ?? NaN, higher: true },
];

type Row = Pick<EvaluationReport, 'model' | 'splitSource' | 'images' | 'lesions' | 'dice' | 'iou' | 'ap50' | 'pointingGame' | 'latencyMs' | 'imageSet' | 'froc' | 'negatives' | 'fpPerNegativeImage' | 'negativesWithFindings' | 'imageAUROC'>;

const sensitivityAt = (r: Row, rate: number) => r.froc.find((p) => p.fpPerImage === rate)?.sensitivity ?? NaN;

/**
 * The metric table as text; `*` marks each column's best when every model was scored on the same images,
 * each on images held out from its own training (the Compare panel's rule).
 */
export function table(rows: Row[]): string {
  const { sameImages, notHeldOut, rankable } = comparability(rows);
  const columns = rows.some((r) => r.negatives) ? [...COLUMNS, ...NEGATIVE_COLUMNS] : COLUMNS;
  const best = columns.map((c) => bestValue(rows.map(c.value), c.higher, rankable));
  const head = ['model', 'images', 'lesions', ...columns.map((c) => c.label)];
  const body = rows.map((r) => [
    r.model,
    String(r.images),
    String(r.lesions),
    ...columns.map((c, i) => {
      const v = c.value(r);
      return Number.isFinite(v) ? `${v.toFixed(c.digits ?? 3)}${v === best[i] ? '*' : ' '}` : '– ';
    }),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const lines = [line(head), ...body.map(line)];
  if (!sameImages) {
    lines.push(
      `not comparable: the models were scored on different images (each model's own split decides them: ${rows.map((r) => `${r.model} ${r.images}`).join(', ')}), so none is marked best; --common scores them on the images they share`,
    );
  }
  if (notHeldOut.length) {
    lines.push(
      `not held out: ${notHeldOut.join(', ')} ha${notHeldOut.length > 1 ? 've' : 's'} no split stored for this data, so ${notHeldOut.length > 1 ? 'their' : 'its'} images were drawn by a seed: not held out from ${notHeldOut.length > 1 ? 'their' : 'its'} own training (trained on other data, or may have trained on some); none is marked best`,
    );
  }
  return lines.join('\n');
}

export const command: Command = {
  summary: 'score two or more models on the same data and split (or on the images all of their splits share) and print the metric table',
  usage: USAGE,
  async run(args) {
    const { options } = parseArgs(args, { models: 'value', data: 'value', format: 'value', negatives: 'value', split: 'value', common: 'flag', limit: 'value', out: 'value' });
    for (const k of ['models', 'out']) if (typeof options[k] !== 'string') throw new StudioError('INVALID_PAYLOAD', `--${k} is required\nUsage: ${USAGE}`);
    const names = listOption(options, 'models') ?? [];
    if (names.length < 2) throw new StudioError('INVALID_PAYLOAD', '--models needs two or more models, comma-separated');
    const { loadSettings } = await import('../../settings.ts');
    const modelsDir = loadSettings().modelsDir;
    // Every model is found before any is scored: a typo in the last name must not cost the first's run.
    const models = names.map((arg) => {
      const dir = modelFolder(arg, modelsDir);
      return { name: dir.split(/[\\/]/).pop() as string, modelDir: dir };
    });
    // The Compare panel's request, validated by the contract's schema: the same bounds and defaults.
    const request = contractRequest(
      'evaluation.compare',
      { models: models.map((m) => m.name), data: options.data, format: options.format, negatives: listOption(options, 'negatives'), split: options.split, scope: options.common ? 'common' : 'own', limit: optionalNumber(options, 'limit') },
      { models: 'models', data: 'data', format: 'format', negatives: 'negatives', split: 'split', limit: 'limit' },
      USAGE,
    );
    const { data, format, negatives, split, limit } = request;
    const out = resolve(options.out as string);
    const { commonSplit, evaluateModel } = await import('../../evaluation/evaluate.ts');
    const among = options.common ? await commonSplit(models, data, format, split, negatives) : undefined;
    if (among) process.stderr.write(`${among.length} ${split} images lie in the ${split} split of every model\n`);
    const reports = [];
    for (const [i, m] of models.entries()) {
      let bar: ProgressBar | undefined;
      reports.push(
        await evaluateModel(m.name, {
          modelDir: m.modelDir,
          data,
          format,
          negatives,
          split,
          among,
          limit,
          onProgress(done, total) {
            bar ??= new ProgressBar(`${m.name} (${i + 1}/${models.length})`, total);
            bar.tick(done);
          },
        }),
      );
      bar?.finish();
    }
    ensureDir(dirname(out));
    writeFileSync(out, `${JSON.stringify({ data, split, scope: among ? 'common' : 'own', reports }, null, 2)}\n`);
    process.stdout.write(`${table(reports)}\n`);
    return 0;
  },
};
