/**
 * Model comparisons for the services: each picked model scored on one dataset split in a worker thread
 * (never on the host's event loop), with 'evaluation.progress' events as images are scored, and a cancel.
 */
import { existsSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { type EvaluationProgress, type EvaluationReport, type ErrorCode, StudioError, type ValidRequest } from '../../preload/contract.ts';
import type { ServiceContext } from '../core/context.ts';
import { startWorker } from '../core/worker.ts';
import { modelDir } from '../detector/io.ts';
import { resolveProjectPath } from '../settings.ts';
import type { EvaluateProgress, EvaluationCommand, EvaluationMessage } from './worker.ts';

const WORKER_URL = new URL('./worker.ts', import.meta.url);
/** A comparison scores several images a second: its bar moves smoothly at four updates a second. */
const EVALUATION_EMIT_MS = 250;

export class EvaluationService {
  private comparison: { worker: Worker; cancelled: boolean } | null = null;

  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Score each picked model in one worker, pushing 'evaluation.progress' as images are scored. One
   * comparison at a time: the worker holds every model's weights and a decoded copy of the split.
   */
  async compare(req: ValidRequest<'evaluation.compare'>): Promise<EvaluationReport[]> {
    if (this.comparison) throw new StudioError('BUSY', 'a comparison is already running');
    if (!existsSync(req.data)) throw new StudioError('NOT_FOUND', `no dataset at ${req.data}`, 'data');
    const jobs = req.models.map((name) => ({ name, modelDir: modelDir(this.ctx.settings.modelsDir, name), data: resolveProjectPath(req.data), format: req.format, negatives: req.negatives?.map(resolveProjectPath), split: req.split, limit: req.limit, renderings: req.renderings }));
    const worker = startWorker(WORKER_URL);
    // The rate is timed from the first image scored: loading the worker, the model and the split's first
    // images would otherwise count as scoring time and inflate the first ETAs several times over.
    let first: { at: number; scored: number } | null = null;
    let scored = 0;
    let progress: EvaluationProgress = { state: 'running', models: req.models, modelIndex: 0, done: 0, total: 0, imagesPerSec: 0, etaSec: NaN };
    let lastEmit = 0;
    const emit = (next: EvaluationProgress, force = false) => {
      // A new model, or the first ETA, goes out at once; the rest at most four times a second.
      const news = next.modelIndex !== progress.modelIndex || (Number.isFinite(next.etaSec) && !Number.isFinite(progress.etaSec));
      progress = next;
      const now = Date.now();
      if (!force && !news && now - lastEmit < EVALUATION_EMIT_MS) return;
      lastEmit = now;
      this.ctx.events.emit('evaluation.progress', progress);
    };
    const state = { worker, cancelled: false };
    this.comparison = state;
    emit(progress, true);
    try {
      const reports = await new Promise<EvaluationReport[]>((resolve, reject) => {
        worker.on('message', (m: EvaluationMessage) => {
          if (m.type === 'progress') {
            const p = m.progress as EvaluateProgress;
            scored++;
            const now = Date.now();
            first ??= { at: now, scored };
            const seconds = (now - first.at) / 1000;
            const rate = seconds > 0 ? (scored - first.scored) / seconds : 0;
            // Each model still to come is assumed to score as many images as this one.
            const left = p.total - p.done + (jobs.length - 1 - p.modelIndex) * p.total;
            emit({ ...progress, modelIndex: p.modelIndex, done: p.done, total: p.total, imagesPerSec: rate, etaSec: rate > 0 ? left / rate : NaN });
          } else if (m.type === 'done') resolve(m.result as EvaluationReport[]);
          else if (m.type === 'error') reject(new StudioError(m.error.code as ErrorCode, m.error.message, m.error.subject));
        });
        worker.on('error', (err) => reject(new StudioError('INTERNAL', `evaluation worker crashed: ${err.message}`)));
        worker.on('exit', (code) => reject(state.cancelled ? new StudioError('CANCELLED', 'comparison cancelled') : new StudioError('INTERNAL', `evaluation worker exited (${code})`)));
        worker.postMessage({ type: 'evaluate', jobs, common: req.scope === 'common' } satisfies EvaluationCommand);
      });
      emit({ ...progress, state: 'finished', modelIndex: jobs.length - 1, done: progress.total, etaSec: 0 }, true);
      return reports;
    } catch (err) {
      const cancelled = err instanceof StudioError && err.code === 'CANCELLED';
      emit({ ...progress, state: cancelled ? 'cancelled' : 'failed', etaSec: NaN, message: err instanceof Error ? err.message : String(err) }, true);
      throw err;
    } finally {
      this.comparison = null;
      await worker.terminate();
    }
  }

  /** Stop the running comparison at once: scoring keeps no state worth a graceful stop. */
  async cancel(): Promise<{ cancelled: boolean }> {
    const running = this.comparison;
    if (!running) return { cancelled: false };
    running.cancelled = true;
    await running.worker.terminate();
    return { cancelled: true };
  }

  async close(): Promise<void> {
    await this.comparison?.worker.terminate();
  }
}
