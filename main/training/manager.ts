/**
 * Training runs for the services: each runs in its own worker thread; the manager
 * keeps the latest progress of every run of this session and forwards it as 'training.progress' events
 * (throttled, but every state change and epoch end goes out at once).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/worker.ts';
import { StudioError, type TrainingPlan, type TrainingProgress, type ValidRequest } from '../../preload/contract.ts';
import { planTraining, refuseUntrainable } from '../datasets/plan.ts';
import { modelDir } from '../detector/io.ts';
import { childPath } from '../fs/names.ts';
import type { ServiceContext } from '../core/context.ts';
import { trainOptionsFrom } from './options.ts';
import type { AdaptOptions } from './adapt.ts';
import { planAdaptation } from './site.ts';
import { defaultStorePath } from '../review/store.ts';
import type { WorkerCommand, WorkerMessage } from './worker.ts';
import { resolveProjectPath } from '../settings.ts';

const WORKER_URL = new URL('./worker.ts', import.meta.url);
const EMIT_EVERY_MS = 500;

interface Run {
  progress: TrainingProgress;
  worker: Worker | null;
  lastEmit: number;
  lastEpoch: number;
}

export class TrainingManager {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly ctx: ServiceContext) {}

  private emit(run: Run, force = false): void {
    const now = Date.now();
    if (!force && now - run.lastEmit < EMIT_EVERY_MS) return;
    run.lastEmit = now;
    this.ctx.events.emit('training.progress', run.progress);
  }

  /** Refuses a second run while one is going: one run at a time on this machine. */
  private refuseBusy(): void {
    for (const r of this.runs.values()) {
      if (r.worker && (r.progress.state === 'running' || r.progress.state === 'paused' || r.progress.state === 'queued')) {
        throw new StudioError('BUSY', `training '${r.progress.name}' is still running: one run at a time on this machine`, r.progress.runId);
      }
    }
  }

  /** What a run with these settings would train on (datasets/plan.ts), read where the run reads it. */
  async plan(req: Pick<ValidRequest<'training.plan'>, 'data' | 'format' | 'negatives' | 'limit' | 'seed' | 'adaptFrom'>): Promise<TrainingPlan> {
    if (req.adaptFrom) {
      if (req.format !== 'review') throw new StudioError('INVALID_PAYLOAD', 'a site adaptation reads a review store: format must be review', 'format');
      const base = modelDir(this.ctx.settings.modelsDir, req.adaptFrom);
      return (await planAdaptation({ store: resolveProjectPath(req.data), base, seed: req.seed, ...(req.negatives ? { negatives: req.negatives.map(resolveProjectPath) } : {}) })).plan;
    }
    return planTraining({ data: resolveProjectPath(req.data), format: req.format, negatives: req.negatives?.map(resolveProjectPath), limit: req.limit, seed: req.seed });
  }

  async start(req: ValidRequest<'training.start'>): Promise<{ runId: string }> {
    this.refuseBusy();
    // The name is joined into the models folder: checked first, so '..' can never write beside it.
    const out = childPath(this.ctx.settings.modelsDir, req.name, 'name');
    if (!existsSync(req.data)) throw new StudioError('NOT_FOUND', `no dataset at ${req.data}`, 'data');
    const hasCheckpoint = existsSync(join(out, 'checkpoint')) || existsSync(join(out, '.checkpoint-old'));
    if (existsSync(join(out, 'model.json')) && !hasCheckpoint) throw new StudioError('INVALID_PAYLOAD', `a model named '${req.name}' already exists; pick another name`, 'name');
    // A set that cannot train (no lesion image, a handful of images, nothing reviewed) is refused with why,
    // before a worker starts: a run on it would finish with a model that learned nothing, and say nothing.
    refuseUntrainable(await this.plan(req));
    // Another start may have begun while the plan was read.
    this.refuseBusy();
    const base = req.baseModel ? modelDir(this.ctx.settings.modelsDir, req.baseModel) : undefined;
    const options = trainOptionsFrom(req, { data: resolveProjectPath(req.data), negatives: req.negatives?.map(resolveProjectPath), out, base, studioVersion: this.ctx.version });
    return this.launch(req.name, req.epochs, { type: 'train', options }, 'start the run again to resume from its checkpoint');
  }

  /**
   * Adapt a model to this site (main/training/adapt.ts) in a training worker: the same one-run-at-a-time
   * rule, progress events and controls as a training run.
   */
  async adapt(req: ValidRequest<'training.adapt'>): Promise<{ runId: string }> {
    this.refuseBusy();
    const out = childPath(this.ctx.settings.modelsDir, req.name, 'name');
    if (existsSync(join(out, 'model.json'))) throw new StudioError('INVALID_PAYLOAD', `a model named '${req.name}' already exists; pick another name`, 'name');
    const base = modelDir(this.ctx.settings.modelsDir, req.baseModel);
    const store = req.store ? resolveProjectPath(req.store) : defaultStorePath(this.ctx.settings);
    if (!existsSync(store)) throw new StudioError('NOT_FOUND', `no review store at ${store}: analyze and review the site's images first`, 'store');
    // What the site's readers have finished, split as the run will split it, refused with why when it
    // cannot teach anything or leaves nothing to tell base and adapted apart on.
    refuseUntrainable((await planAdaptation({ store, base, seed: req.seed, ...(req.negatives ? { negatives: req.negatives.map(resolveProjectPath) } : {}) })).plan, 'store');
    this.refuseBusy();
    const options: AdaptOptions = { ...req, out, base, store, ...(req.negatives ? { negatives: req.negatives.map(resolveProjectPath) } : {}), studioVersion: this.ctx.version };
    return this.launch(req.name, req.epochs, { type: 'adapt', options }, 'adapt again');
  }

  /** A run in its own worker thread, its progress forwarded as events until it finishes, fails or is cancelled. */
  private launch(name: string, epochs: number, command: Extract<WorkerCommand, { type: 'train' | 'adapt' }>, retry: string): { runId: string } {
    const runId = `${name}-${Date.now().toString(36)}`;
    const run: Run = {
      progress: { runId, name, state: 'queued', epoch: 0, epochs, step: 0, steps: 0, loss: NaN, imagesPerSec: 0, etaSec: NaN, history: [] },
      worker: startWorker(WORKER_URL),
      lastEmit: 0,
      lastEpoch: 0,
    };
    this.runs.set(runId, run);
    const worker = run.worker as Worker;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') {
        const p = m.progress as Omit<TrainingProgress, 'runId'>;
        const stateChanged = p.state !== run.progress.state;
        const epochEnded = p.history.length !== run.lastEpoch;
        // A new message says what the run is doing now (decoding, choosing flips): never throttled away.
        const messageChanged = p.message !== undefined && p.message !== run.progress.message;
        run.lastEpoch = p.history.length;
        run.progress = { ...p, runId };
        this.emit(run, stateChanged || epochEnded || messageChanged);
      } else if (m.type === 'log') {
        this.ctx.log(`training ${name}: ${m.line}`);
      } else if (m.type === 'done') {
        // What the run ended with: an adaptation's verdict; a training run's last message no longer applies.
        const verdict = (m.result as { site?: { verdict?: string } } | undefined)?.site?.verdict;
        run.progress = { ...run.progress, state: 'finished', etaSec: 0, message: verdict };
        this.finish(run);
      } else if (m.type === 'error') {
        const cancelled = m.error.code === 'CANCELLED';
        run.progress = { ...run.progress, state: cancelled ? 'cancelled' : 'failed', message: m.error.message };
        this.finish(run);
      }
    });
    worker.on('error', (err) => {
      run.progress = { ...run.progress, state: 'failed', message: `training worker crashed: ${err.message}` };
      this.finish(run);
    });
    worker.on('exit', () => {
      if (run.worker === worker && !['finished', 'failed', 'cancelled'].includes(run.progress.state)) {
        run.progress = { ...run.progress, state: 'failed', message: `training worker exited unexpectedly; ${retry}` };
        this.finish(run);
      }
    });
    worker.postMessage(command satisfies WorkerCommand);
    this.emit(run, true);
    return { runId };
  }

  private finish(run: Run): void {
    const w = run.worker;
    run.worker = null;
    this.emit(run, true);
    void w?.terminate();
  }

  control(req: ValidRequest<'training.control'>): TrainingProgress {
    const run = this.runs.get(req.runId);
    if (!run) throw new StudioError('NOT_FOUND', `no training run '${req.runId}'`, req.runId);
    if (!run.worker) throw new StudioError('INVALID_PAYLOAD', `run '${req.runId}' has already ${run.progress.state}`, req.runId);
    run.worker.postMessage({ type: 'control', action: req.action } satisfies WorkerCommand);
    if (req.action === 'pause') run.progress = { ...run.progress, state: 'paused' };
    if (req.action === 'resume') run.progress = { ...run.progress, state: 'running' };
    this.emit(run, true);
    return run.progress;
  }

  list(): TrainingProgress[] {
    return [...this.runs.values()].map((r) => r.progress);
  }

  async close(): Promise<void> {
    const workers = [...this.runs.values()].map((r) => r.worker).filter((w): w is Worker => Boolean(w));
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }
}
