import type { Command } from '../index.ts';
import { parseArgs } from '../args.ts';
import { loadSettings } from '../../settings.ts';
import { DetectorEngine } from '../../detector/engine.ts';
import { toBackendReport } from '../../detector/handlers.ts';
import { coreCount } from '../../detector/engine.ts';
import { threadsPerWorker } from '../../detector/runtime/threads.ts';
import { trainingKernels } from '../../detector/kernels/index.ts';

async function tfjsReport(backend: string | undefined) {
  const engine = new DetectorEngine({ workers: 1, backend, runtime: 'tfjs' });
  try {
    return toBackendReport(await engine.backend());
  } finally {
    await engine.close();
  }
}

export const command: Command = {
  summary: 'show the inference runtime and backend, threads, versions and whether a GPU is used',
  usage: 'studio doctor [--json] [--backend tensorflow|wasm|cpu] [--runtime auto|onnxruntime|onnxruntime-cpu|onnxruntime-cuda|tfjs]',
  async run(args) {
    const { options } = parseArgs(args, { json: 'flag', backend: 'value', runtime: 'value' });
    const settings = loadSettings();
    // Start the backend the way the studio does: inside an inference worker.
    const engine = new DetectorEngine({ workers: 1, backend: typeof options.backend === 'string' ? options.backend : settings.backend, runtime: typeof options.runtime === 'string' ? options.runtime : settings.runtime });
    try {
      const report = toBackendReport(await engine.backend());
      // Training and Grad-CAM always run on TensorFlow.js: say which backend they get too.
      const tfjs = report.runtime === 'tfjs' ? report : await tfjsReport(typeof options.backend === 'string' ? options.backend : settings.backend);
      // studio train runs on wasm (main/training/backend.ts); its convolutions are native where built.
      const kernels = trainingKernels('wasm');
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...report, training: { backend: tfjs.backend, gpu: tfjs.gpu, versions: tfjs.versions, trainKernels: kernels } }, null, 2)}\n`);
        return 0;
      }
      const lines = [
        `runtime   ${report.runtime}${settings.runtime ? ` (STUDIO_RUNTIME=${settings.runtime} requested)` : ''}`,
        `backend   ${report.backend}${settings.backend ? ` (STUDIO_BACKEND=${settings.backend})` : ''}`,
        `gpu       ${report.gpu ? 'yes' : 'no'}`,
        report.runtime === 'onnxruntime'
          ? `threads   ${report.threads} intra-op per interactive worker; batch analysis: ${coreCount()} workers × ${threadsPerWorker(coreCount(), coreCount())} thread(s)`
          : `threads   ${report.threads} per inference worker; ${coreCount()} cores → ${coreCount()} workers for batch analysis`,
        `versions  ${Object.entries(report.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        ...(tfjs === report ? [] : [`training  TensorFlow.js ${tfjs.backend}${tfjs.gpu ? ' (GPU)' : ''}, also for Grad-CAM (${Object.entries(tfjs.versions).filter(([k]) => k.startsWith('tfjs')).map(([k, v]) => `${k} ${v}`).join(', ')})`]),
        `kernels   studio train on wasm: ${kernels}`,
        `models    ${settings.modelsDir}`,
        ...report.notes.map((n) => `note      ${n}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};
