/**
 * batch.start / batch.cancel: the same analysis as `studio analyze`, run in the background with
 * 'batch.progress' events. One job at a time (it already uses every core).
 */
import { randomUUID } from 'node:crypto';
import { StudioError, type BatchProgress, type Handlers } from '../../preload/contract.ts';
import { modelDir } from '../detector/io.ts';
import type { ServiceContext } from '../core/context.ts';
import { analyze, mismatchCounts } from './analyze.ts';

type BatchChannels = 'batch.start' | 'batch.cancel';

export interface BatchService {
  handlers: Pick<Handlers, BatchChannels>;
  close(): Promise<void>;
}

interface Job {
  progress: BatchProgress;
  abort: AbortController;
  finished: Promise<void>;
}

export function createBatchHandlers(ctx: ServiceContext): BatchService {
  const jobs = new Map<string, Job>();
  let running: Job | null = null;

  const emit = (p: BatchProgress) => ctx.events.emit('batch.progress', { ...p });

  return {
    handlers: {
      'batch.start': async (req) => {
        if (running) throw new StudioError('BUSY', `batch job ${running.progress.jobId} is still running`);
        const dir = modelDir(ctx.settings.modelsDir, req.model);
        const jobId = randomUUID();
        const abort = new AbortController();
        const progress: BatchProgress = { jobId, state: 'running', done: 0, total: 0, failed: 0, imagesPerSec: 0, etaSec: 0 };
        const job: Job = { progress, abort, finished: Promise.resolve() };
        job.finished = analyze({
          inputs: req.inputs,
          modelDir: dir,
          modelName: req.model,
          out: req.out,
          threshold: req.threshold,
          flips: req.flips,
          store: req.store,
          force: req.force,
          backend: ctx.settings.backend,
          runtime: ctx.settings.runtime,
          signal: abort.signal,
          onProgress: (p) => {
            Object.assign(progress, { done: p.done, total: p.total, failed: p.failed, imagesPerSec: p.imagesPerSec, etaSec: Number.isFinite(p.etaSec) ? p.etaSec : 0, current: p.current });
            emit(progress);
          },
        }).then(
          (summary) => {
            progress.state = summary.cancelled ? 'cancelled' : 'finished';
            const { declared, appearance: unlike } = mismatchCounts(summary);
            const mismatched = `${declared ? `${declared} not the kind of image ${req.model} is for (${req.force ? 'analysed anyway, marked' : 'refused'}), ` : ''}${unlike ? `${unlike} unlike its training images (analysed, marked), ` : ''}`;
            progress.message = `${summary.analysed} analysed, ${summary.skipped ? `${summary.skipped} already in the store, ` : ''}${mismatched}${summary.failed.length} failed; results in ${summary.out}`;
          },
          (err) => {
            progress.state = 'failed';
            progress.message = (err as Error).message;
            ctx.log(`batch ${jobId} failed: ${progress.message}`);
          },
        ).finally(() => {
          running = null;
          emit(progress);
        });
        jobs.set(jobId, job);
        running = job;
        emit(progress);
        return { jobId };
      },

      'batch.cancel': async (req) => {
        const job = jobs.get(req.jobId);
        if (!job) throw new StudioError('NOT_FOUND', `no batch job ${req.jobId}`, req.jobId);
        if (job.progress.state === 'running') {
          job.abort.abort();
          await job.finished;
        }
        return { ...job.progress };
      },
    },

    async close() {
      running?.abort.abort();
      await running?.finished;
    },
  };
}
