/**
 * Compressed frames decode in a worker thread: a codec that loops forever on hostile data is stopped by
 * a timeout (the worker is terminated and replaced) instead of hanging the studio, and long decodes
 * leave the caller's event loop free. Where no worker can start (a bundled build without the worker
 * script), frames decode in process.
 */
import { Worker } from 'node:worker_threads';
import { failureFromReply } from '../errors.ts';
import { decodeCompressedFrame, type CodecOutput, type FrameLayout } from './index.ts';
import type { DecodeReply, DecodeRequest } from './worker.ts';

export const guard = {
  /** A frame that takes longer than this is abandoned with an error. */
  timeoutMs: 60_000,
  /** The worker script; tests point it elsewhere. */
  workerUrl: new URL('./worker.ts', import.meta.url),
  /** Decode in process (no worker), for example to profile. */
  inProcess: process.env.STUDIO_DECODE_IN_PROCESS === '1',
};

interface Pending {
  resolve(out: CodecOutput): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** Decodes the same frame in process, if the worker cannot start at all. */
  inProcess(): Promise<CodecOutput>;
}

let worker: Worker | undefined;
let unavailable = false;
let nextId = 0;
const pending = new Map<number, Pending>();

function spawn(): Worker | undefined {
  if (worker) return worker;
  if (unavailable) return undefined;
  try {
    const href = guard.workerUrl.href;
    if (href.endsWith('.ts')) {
      // Node 20 does not run a .ts worker entry through tsx (not even with execArgv): register tsx
      // inside the worker first. Only reachable when running from source, where tsx is present.
      const api = import.meta.resolve('tsx/esm/api');
      worker = new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(href)}); })`, { eval: true });
    } else worker = new Worker(guard.workerUrl);
  } catch {
    unavailable = true;
    return undefined;
  }
  const w = worker;
  let answered = false;
  w.unref();
  w.on('message', (reply: DecodeReply) => {
    answered = true;
    const p = pending.get(reply.id);
    if (!p) return;
    settle(reply.id);
    if (reply.ok) p.resolve(reply.out);
    else p.reject(failureFromReply(reply));
  });
  const lost = (message: string) => {
    if (!answered && worker === w) {
      // The worker never ran (no worker script, no tsx): decode in process from now on.
      unavailable = true;
      worker = undefined;
      for (const [id, p] of pending) {
        settle(id);
        p.inProcess().then(p.resolve, p.reject);
      }
      return;
    }
    failAll(w, message);
  };
  w.on('error', (err) => lost(`the decoder thread failed: ${err.message}`));
  w.on('exit', () => lost('the decoder thread stopped'));
  return w;
}

function settle(id: number): void {
  const p = pending.get(id);
  if (!p) return;
  clearTimeout(p.timer);
  pending.delete(id);
  if (pending.size === 0) worker?.unref();
}

function failAll(w: Worker, message: string): void {
  if (worker !== w) return;
  worker = undefined;
  for (const [id, p] of pending) {
    settle(id);
    p.reject(new Error(message));
  }
}

export async function decodeFrameGuarded(ts: string, encoded: Uint8Array, layout: FrameLayout, planar: 0 | 1, photometric: string): Promise<CodecOutput> {
  const w = guard.inProcess ? undefined : spawn();
  if (!w) return decodeCompressedFrame(ts, encoded, layout, planar, photometric);
  const id = nextId++;
  // A copy the worker can own: posting a view would clone the whole file's buffer.
  const own = encoded.slice();
  const req: DecodeRequest = { id, ts, encoded: own, layout: { rows: layout.rows, columns: layout.columns, samplesPerPixel: layout.samplesPerPixel, bitsAllocated: layout.bitsAllocated }, planar, photometric };
  return new Promise<CodecOutput>((resolve, reject) => {
    const timer = setTimeout(() => {
      // The codec is stuck: stop the thread (the next frame gets a fresh one) and fail this frame.
      settle(id);
      reject(new Error(`the decoder did not finish within ${Math.round(guard.timeoutMs / 1000)} s; stopped`));
      if (worker === w) {
        worker = undefined;
        for (const [other, p] of pending) {
          settle(other);
          p.reject(new Error('the decoder thread was restarted'));
        }
        void w.terminate();
      }
    }, guard.timeoutMs);
    pending.set(id, { resolve, reject, timer, inProcess: () => decodeCompressedFrame(ts, encoded, layout, planar, photometric) });
    w.ref();
    w.postMessage(req, [own.buffer]);
  });
}

/** Stops the decoder thread (tests, shutdown). */
export async function stopDecoder(): Promise<void> {
  const w = worker;
  worker = undefined;
  unavailable = false;
  if (w) await w.terminate();
}
