/**
 * Everything that reads untrusted bytes runs in the imaging worker thread, never on the caller's event
 * loop: parsing a DICOM file (inflation, header, LUTs, frame index: `planDicomGuarded`) and decoding each
 * frame to its stored and shown values (`decodeDicomFrameGuarded`). Jobs go to the worker one at a time;
 * each has a wall-clock budget from what it declares (guard.ts frameBudgetMs/parseBudgetMs), counted from
 * when the worker (started and ready) takes it. A worker past its budget is killed and replaced, that job
 * fails with a clear error and the jobs queued behind it run on the fresh worker. A worker whose codec
 * memory grew large (or a codec failed after growing) asks to be replaced, so the memory goes back.
 * Where no worker can start (a bundled build without the worker script), jobs run in process.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../core/worker.ts';
import { failureFromReply, imagingError } from '../errors.ts';
import { decodePlannedFrame, planDicom, type DicomPlan, type FrameRequest, type FrameResult } from '../dicom/plan.ts';
import { decodeCompressedFrame, type CodecOutput, type FrameLayout } from './index.ts';
import type { WorkerReply, WorkerRequest } from './worker.ts';

export const guard = {
  /** No job runs longer than this, whatever its budget (tests lower it). */
  timeoutMs: 60_000,
  /** The worker script; tests point it elsewhere. */
  workerUrl: new URL('./worker.ts', import.meta.url),
  /** Decode in process (no worker), for example to profile. */
  inProcess: process.env.STUDIO_DECODE_IN_PROCESS === '1',
};

/** Counts for tests and the log: workers started, stopped for their budget, replaced to free memory. */
export const workerStats = { started: 0, timedOut: 0, recycled: 0 };

interface Job {
  msg: WorkerRequest;
  transfer: ArrayBuffer[];
  budgetMs: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
  /** The same job in process, when no worker can start. */
  local(): Promise<unknown>;
  timeoutError(seconds: number): Error;
  lostError(reason: string): Error;
}

let worker: Worker | undefined;
/** The worker has said it is ready (or, for a plain script, answered once): jobs may transfer their buffers. */
let ready = false;
let waitsForReady = false;
let unavailable = false;
let nextId = 0;
const queue: Job[] = [];
let busy: { job: Job; id: number; w: Worker; timer: NodeJS.Timeout; transferred: boolean } | undefined;

function spawn(): Worker | undefined {
  if (worker) return worker;
  if (unavailable) return undefined;
  let w: Worker;
  try {
    const href = guard.workerUrl.href;
    w = startWorker(guard.workerUrl);
    waitsForReady = href.endsWith('.ts') || href.endsWith('/worker.js');
  } catch {
    unavailable = true;
    return undefined;
  }
  worker = w;
  ready = false;
  workerStats.started++;
  w.unref();
  w.on('message', (reply: WorkerReply | { ready: true }) => {
    if (worker !== w) return;
    if ('ready' in reply) {
      ready = true;
      pump();
      return;
    }
    ready = true;
    if (!busy || busy.w !== w || busy.id !== reply.id) return;
    const { job, timer } = busy;
    clearTimeout(timer);
    busy = undefined;
    if (reply.recycle) {
      workerStats.recycled++;
      retire(w);
    }
    if (reply.ok) job.resolve('value' in reply ? reply.value : reply.out);
    else job.reject(failureFromReply(reply));
    pump();
  });
  const lost = (reason: string) => {
    if (worker !== w) return;
    worker = undefined;
    const job = busy?.w === w ? busy : undefined;
    if (job) clearTimeout(job.timer);
    busy = undefined;
    if (!ready && !job?.transferred) {
      // The worker never ran (no worker script, no tsx): run in process from now on.
      unavailable = true;
      if (job) job.job.local().then(job.job.resolve, job.job.reject);
      pump();
      return;
    }
    job?.job.reject(job.job.lostError(reason));
    pump();
  };
  w.on('error', (err) => lost(/out of memory/i.test(err.message) ? 'it ran out of memory' : `it failed: ${err.message}`));
  w.on('exit', () => lost('it stopped'));
  return w;
}

function retire(w: Worker): void {
  if (worker === w) {
    worker = undefined;
    ready = false;
  }
  void w.terminate();
}

/** Starts the next queued job when the worker is free (and ready). */
function pump(): void {
  if (busy || queue.length === 0) {
    if (!busy && worker) worker.unref();
    return;
  }
  const w = spawn();
  if (!w) {
    for (const job of queue.splice(0)) job.local().then(job.resolve, job.reject);
    return;
  }
  if (waitsForReady && !ready) return;
  const job = queue.shift()!;
  const id = nextId++;
  // A worker that has not answered yet may still turn out not to run: keep the job's buffers until it does.
  const transferred = ready && job.transfer.length > 0;
  const timer = setTimeout(() => {
    if (busy?.id !== id) return;
    busy = undefined;
    workerStats.timedOut++;
    retire(w);
    job.reject(job.timeoutError(Math.max(1, Math.round(job.budgetMs / 1000))));
    pump();
  }, job.budgetMs);
  busy = { job, id, w, timer, transferred };
  w.ref();
  w.postMessage({ ...job.msg, id }, transferred ? job.transfer : []);
}

function submit<T>(job: Omit<Job, 'resolve' | 'reject' | 'budgetMs'> & { budgetMs: number }): Promise<T> {
  if (guard.inProcess) return job.local() as Promise<T>;
  return new Promise<T>((resolve, reject) => {
    queue.push({ ...job, budgetMs: Math.min(job.budgetMs, guard.timeoutMs), resolve: resolve as (v: unknown) => void, reject });
    pump();
  });
}

/** A buffer the job may hand over whole (a view of part of a larger one is copied first). */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
}

/**
 * Parses a DICOM file in the worker. `bytes` is handed over (its buffer detached when whole): the reply
 * gives back the bytes the plan's offsets refer to (the file's, or the inflated dataset's).
 */
export function planDicomGuarded(bytes: Uint8Array, name: string, budgetMs: number): Promise<{ plan: DicomPlan; bytes: Uint8Array }> {
  const mine = own(bytes);
  return submit<{ plan: DicomPlan; bytes?: Uint8Array }>({
    msg: { op: 'plan', bytes: mine, name },
    transfer: [mine.buffer as ArrayBuffer],
    budgetMs,
    local: async () => ({ plan: await planDicom(mine, name), bytes: mine }),
    timeoutError: (s) => imagingError('DECODE_FAILED', name, `reading the file took more than ${s} s, far longer than a file of its size should; stopped (the file is damaged or was made to break readers)`),
    lostError: (reason) => imagingError('DECODE_FAILED', name, `reading the file stopped the imaging worker (${reason})`),
  }).then(({ plan, bytes: back }) => ({ plan, bytes: plan.dataBytes ?? back ?? mine }));
}

export function decodeDicomFrameGuarded(req: FrameRequest, budgetMs: number, what: string): Promise<FrameResult> {
  const mine = own(req.bytes);
  const msg: FrameRequest = { ...req, bytes: mine };
  return submit<FrameResult>({
    msg: { op: 'frame', req: msg },
    transfer: [mine.buffer as ArrayBuffer],
    budgetMs,
    local: () => decodePlannedFrame(msg),
    timeoutError: (s) => imagingError('DECODE_FAILED', req.name, `${what}: the decoder was still busy after ${s} s, far longer than a ${req.header.columns}x${req.header.rows} frame takes; it was stopped (the data are damaged or were made to break decoders)`),
    lostError: (reason) => imagingError('DECODE_FAILED', req.name, `${what}: the imaging worker stopped while decoding it (${reason})`),
  });
}

/** One compressed frame through the worker's codecs alone (no DICOM pipeline), within guard.timeoutMs. */
export function decodeFrameGuarded(ts: string, encoded: Uint8Array, layout: FrameLayout, planar: 0 | 1, photometric: string): Promise<CodecOutput> {
  const mine = encoded.slice();
  return submit<CodecOutput>({
    msg: { op: 'decode', ts, encoded: mine, layout: { rows: layout.rows, columns: layout.columns, samplesPerPixel: layout.samplesPerPixel, bitsAllocated: layout.bitsAllocated }, planar, photometric },
    transfer: [mine.buffer as ArrayBuffer],
    budgetMs: guard.timeoutMs,
    local: () => decodeCompressedFrame(ts, encoded, layout, planar, photometric),
    timeoutError: (s) => new Error(`the decoder did not finish within ${s} s; stopped`),
    lostError: (reason) => new Error(`the decoder thread stopped (${reason})`),
  });
}

/** Stops the worker (tests, shutdown); queued jobs start a fresh one. */
export async function stopDecoder(): Promise<void> {
  const w = worker;
  worker = undefined;
  ready = false;
  unavailable = false;
  if (busy) {
    clearTimeout(busy.timer);
    busy.job.reject(busy.job.lostError('the imaging service was stopped'));
    busy = undefined;
  }
  if (w) await w.terminate();
}
