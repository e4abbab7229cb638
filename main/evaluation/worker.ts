/**
 * The evaluation worker thread: scores each job's model on its split, all TensorFlow.js work off the host's
 * event loop. parent → worker: { type: 'evaluate', jobs, common }; worker → parent: progress, done or error.
 */
import { parentPort } from 'node:worker_threads';
import { StudioError } from '../../preload/contract.ts';
import type { DatasetFormat, SplitName } from '../datasets/index.ts';
import { commonSplit, evaluateModel } from './evaluate.ts';

export interface EvaluationCommand {
  type: 'evaluate';
  jobs: { name: string; modelDir: string; data: string; format: DatasetFormat; negatives?: string[]; split: SplitName; limit?: number; renderings?: boolean }[];
  /** Score every job on the images in all of their splits (the jobs share data, format and split). */
  common?: boolean;
}

/** Progress of an 'evaluate' command: the job being scored and its images scored so far. */
export interface EvaluateProgress {
  modelIndex: number;
  done: number;
  total: number;
}

export type EvaluationMessage =
  | { type: 'progress'; progress: EvaluateProgress }
  | { type: 'done'; result: unknown }
  | { type: 'error'; error: { code: string; message: string; subject?: string } };

if (!parentPort) throw new Error('the evaluation worker must run in a worker thread');
const port = parentPort;
const send = (m: EvaluationMessage) => port.postMessage(m);

port.on('message', async (cmd: EvaluationCommand) => {
  try {
    const [first] = cmd.jobs;
    const among = cmd.common && first ? await commonSplit(cmd.jobs, first.data, first.format, first.split, first.negatives) : undefined;
    const reports = [];
    for (const [modelIndex, job] of cmd.jobs.entries()) {
      const onProgress = (done: number, total: number) => send({ type: 'progress', progress: { modelIndex, done, total } });
      reports.push(await evaluateModel(job.name, { modelDir: job.modelDir, data: job.data, format: job.format, negatives: job.negatives, split: job.split, among, limit: job.limit, renderings: job.renderings, onProgress }));
    }
    send({ type: 'done', result: reports });
  } catch (err) {
    send({ type: 'error', error: err instanceof StudioError ? err.toJSON() : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } });
  }
});
