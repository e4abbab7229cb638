/**
 * The training worker thread: all TensorFlow.js work of a training run happens here, never on the host's
 * event loop. Protocol (both ways, structured-clone messages):
 *   parent → worker: { type: 'train', options } | { type: 'adapt', options } | { type: 'control', action }
 *   worker → parent: { type: 'progress', progress } | { type: 'done', result } | { type: 'error', error }
 */
import { parentPort } from 'node:worker_threads';
import { StudioError } from '../../preload/contract.ts';
import { train, type TrainerHooks, type TrainOptions } from './trainer.ts';
import { adaptModel, type AdaptOptions } from './adapt.ts';

export type WorkerCommand =
  | { type: 'train'; options: TrainOptions }
  | { type: 'adapt'; options: AdaptOptions }
  | { type: 'control'; action: 'pause' | 'resume' | 'cancel' };

export type WorkerMessage =
  | { type: 'progress'; progress: unknown }
  | { type: 'log'; line: string }
  | { type: 'done'; result: unknown }
  | { type: 'error'; error: { code: string; message: string; subject?: string } };

if (!parentPort) throw new Error('the training worker must run in a worker thread');
const port = parentPort;

let paused = false;
let cancelled = false;
let resumeWaiters: (() => void)[] = [];
let lastProgress: Record<string, unknown> | null = null;

/** Told to the parent once the run has really stopped between two steps (not just been asked to). */
export const PAUSED_MESSAGE = 'paused between steps';

const send = (m: WorkerMessage) => port.postMessage(m);

function fail(err: unknown): void {
  const e = err instanceof StudioError ? err.toJSON() : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
  send({ type: 'error', error: e });
}

/** Between steps: yield to the event loop (so control messages are seen), then wait while paused. */
async function gate(): Promise<'go' | 'cancel'> {
  await new Promise((r) => setImmediate(r));
  if (paused && !cancelled && lastProgress) send({ type: 'progress', progress: { ...lastProgress, state: 'paused', message: PAUSED_MESSAGE } });
  while (paused && !cancelled) await new Promise<void>((r) => resumeWaiters.push(r));
  return cancelled ? 'cancel' : 'go';
}

port.on('message', async (cmd: WorkerCommand) => {
  if (cmd.type === 'control') {
    if (cmd.action === 'pause') paused = true;
    if (cmd.action === 'resume' || cmd.action === 'cancel') {
      paused = false;
      if (cmd.action === 'cancel') cancelled = true;
      const w = resumeWaiters;
      resumeWaiters = [];
      for (const r of w) r();
    }
    return;
  }
  const hooks: TrainerHooks = {
    progress: (progress) => {
      lastProgress = progress as unknown as Record<string, unknown>;
      send({ type: 'progress', progress: { ...progress, state: paused && progress.state === 'running' ? 'paused' : progress.state } });
    },
    gate,
    log: (line) => send({ type: 'log', line }),
  };
  try {
    if (cmd.type === 'train') send({ type: 'done', result: await train(cmd.options, hooks) });
    // An adaptation's own train() reports 'finished' before base and adapted are scored: the run is
    // finished only when its verdict is in the card, which the manager's 'done' marks.
    if (cmd.type === 'adapt') send({ type: 'done', result: await adaptModel(cmd.options, { ...hooks, progress: (p) => hooks.progress(p.state === 'finished' ? { ...p, state: 'running', message: 'scoring base and adapted on the site' } : p) }) });
  } catch (err) {
    fail(err);
  }
});
