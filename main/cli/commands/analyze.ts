import { basename, resolve } from 'node:path';
import type { Command } from '../index.ts';
import { commaList } from '../../../preload/lists.ts';
import { contractRequest, modelFolder, numberOption, optionalNumber, parseArgs } from '../args.ts';
import { ProgressBar } from '../progress.ts';
import { StudioError } from '../../../preload/contract.ts';
import { loadSettings } from '../../settings.ts';
import { analyze, mismatchCounts } from '../../batch/analyze.ts';
import { OUTPUT_KINDS, type OutputKind } from '../../batch/outputs.ts';

/** `--outputs heatmap,overlay` → the kinds; `none` → []. */
export function parseOutputs(value: string): OutputKind[] {
  if (value.trim() === 'none') return [];
  const kinds = commaList(value);
  const bad = kinds.filter((k) => !(OUTPUT_KINDS as readonly string[]).includes(k));
  if (bad.length || !kinds.length) throw new StudioError('INVALID_PAYLOAD', `--outputs takes none or a comma-separated list of ${OUTPUT_KINDS.join(', ')}${bad.length ? ` (not ${bad.join(', ')})` : ''}`);
  return [...new Set(kinds as OutputKind[])];
}

export const command: Command = {
  summary: 'run a detector over images and folders; write findings.json/.csv and (by default) heatmap, attention and overlay PNGs',
  usage: [
    'studio analyze INPUT… --model NAME --out DIR [--threshold T] [--flips none|h|hv] [--models-dir D] [--backend B] [--runtime R] [--workers N] [--outputs LIST] [--store FILE] [--force]',
    '',
    '  INPUT         image files (DICOM, PNG, JPEG, TIFF) or folders, searched recursively',
    '  --model       a model in the models folder (or a path to a model folder)',
    '  --out         output folder: findings.json, findings.csv, errors.json, <stem>.{heatmap,attention,overlay}.png',
    '  --threshold   lesion probability for a finding (default: the card\'s validation-calibrated candidateThreshold, else 0.5)',
    '  --flips       average each image over its mirror images: none, h (left–right) or hv (all four); default the',
    '                card\'s test-time flips (its thresholds were calibrated with them); none is the fastest',
    '  --models-dir  where models live (default: models/ or STUDIO_MODELS_DIR)',
    '  --backend     tensorflow | wasm | cpu (default: the best present, or STUDIO_BACKEND)',
    '  --runtime     auto | onnxruntime | onnxruntime-cpu | onnxruntime-cuda | tfjs (default: STUDIO_RUNTIME, else auto:',
    '                onnxruntime when installed, else TensorFlow.js)',
    '  --workers     inference worker threads (default: one per core)',
    '  --outputs     per-image files: a comma-separated list of heatmap, attention, overlay (default all three),',
    '                or none (findings.json and findings.csv only: the fastest)',
    '  --force       analyse images that are not the kind the model\'s card says it is for (a CT for a polyp',
    '                model, say); without it they are refused and listed in mismatched.json; with it their',
    '                findings are marked with the reason (findings.json/.csv, mismatched.json and the store)',
    '  --store       record each image\'s findings in this review store (SQLite) for the review worklist; images',
    '                this model already recorded there are skipped, so an interrupted run resumes where it stopped',
    '                (findings.json/.csv then list the images this run analysed; the store holds them all)',
    '',
    'Multi-frame images are analysed on their first frame. Files that fail are reported (errors.json) and skipped;',
    'the exit status is 1 only when no image could be analysed.',
  ].join('\n'),
  async run(args) {
    const { positional, options } = parseArgs(args, { model: 'value', out: 'value', threshold: 'value', flips: 'value', 'models-dir': 'value', backend: 'value', runtime: 'value', workers: 'value', store: 'value', outputs: 'value', force: 'flag' });
    if (!positional.length) throw new StudioError('INVALID_PAYLOAD', 'give at least one image file or folder');
    if (options.outputs !== undefined && typeof options.outputs !== 'string') throw new StudioError('INVALID_PAYLOAD', '--outputs needs a list');
    const outputs = typeof options.outputs === 'string' ? parseOutputs(options.outputs) : undefined;
    if (typeof options.model !== 'string') throw new StudioError('INVALID_PAYLOAD', '--model is required (a model in the models folder, or a path to a model folder)', '--model');
    const settings = loadSettings();
    const modelsDir = typeof options['models-dir'] === 'string' ? resolve(options['models-dir']) : settings.modelsDir;
    // A name in the models folder or a path to a model folder; the request names the model by its folder.
    const dir = modelFolder(options.model, modelsDir);
    // The batch panel's request, validated by the contract's schema: the same bounds and defaults.
    const request = contractRequest(
      'batch.start',
      { inputs: positional, model: basename(dir), out: options.out, threshold: optionalNumber(options, 'threshold'), flips: options.flips, store: options.store, force: options.force === true ? true : undefined },
      { inputs: 'INPUT', model: 'model', out: 'out', threshold: 'threshold', flips: 'flips', store: 'store' },
    );
    const workers = options.workers === undefined ? undefined : numberOption(options, 'workers', 1);
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 64)) throw new StudioError('INVALID_PAYLOAD', '--workers must be an integer from 1 to 64');
    const name = request.model;

    const bar = new ProgressBar('analyze', 0);
    const summary = await analyze({
      inputs: request.inputs,
      modelDir: dir,
      modelName: name,
      out: request.out,
      threshold: request.threshold,
      flips: request.flips,
      workers,
      outputs,
      store: request.store === undefined ? undefined : resolve(request.store),
      force: request.force,
      backend: typeof options.backend === 'string' ? options.backend : settings.backend,
      runtime: typeof options.runtime === 'string' ? options.runtime : settings.runtime,
      onProgress: (p) => {
        bar.setTotal(p.total);
        bar.tick(p.done, p.failed ? `(${p.failed} failed)` : '');
      },
    });
    bar.finish();
    for (const f of summary.failed) process.stderr.write(`  skipped: ${f.error.includes(f.image) ? f.error : `${f.image}: ${f.error}`}\n`);
    for (const m of summary.mismatched) process.stderr.write(`  ${m.by === 'appearance' ? 'analysed, marked' : request.force ? 'analysed anyway' : 'refused'}: ${m.image}: ${m.reason}\n`);
    const { declared, appearance: unlike } = mismatchCounts(summary);
    if (declared && !request.force) process.stderr.write(`${declared} image(s) are not the kind ${name} is for: refused (--force analyses them anyway, their findings marked so)\n`);
    if (unlike) process.stderr.write(`${unlike} image(s) look unlike ${name}'s training images (its appearance score): analysed, their findings marked so\n`);
    if (summary.skipped) process.stdout.write(`${summary.skipped} images already in the store: skipped\n`);
    process.stdout.write(`${summary.analysed} of ${summary.total} images analysed in ${summary.seconds.toFixed(1)} s (${summary.imagesPerSec.toFixed(1)} images/s, ${summary.backend}); ${summary.failed.length} failed; results in ${summary.out}\n`);
    return summary.analysed > 0 || summary.skipped > 0 || summary.total === 0 ? 0 : 1;
  },
};
