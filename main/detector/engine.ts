/**
 * A pool of inference workers. The main thread only posts pixels and receives maps: all TensorFlow.js
 * work happens in the workers, so the event loop (UI host, IPC) stays responsive. Interactive use runs
 * one worker; batch runs one per core. A crashed worker fails its own request and is replaced.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/worker.ts';
import { StudioError, type ErrorCode, type Map2D } from '../../preload/contract.ts';
import type { BackendState } from './backend.ts';
import type { RawDetection } from './tfjs-detector.ts';
import type { RGBImage } from './preprocess.ts';
import type { FlipSet } from './flips.ts';
import type { WorkerReply, WorkerRequest, WorkerResult } from './protocol.ts';
import { threadsPerWorker } from './runtime/threads.ts';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type Job = { request: DistributiveOmit<WorkerRequest, 'id'>; resolve(r: WorkerResult): void; reject(e: unknown): void; transfer: ArrayBuffer[] };

interface Slot {
  worker: Worker;
  ready: Promise<BackendState>;
  busy: boolean;
  pending: Map<number, Job>;
}

export interface EngineOptions {
  /** Worker threads (default 1; batch passes the core count). */
  workers?: number;
  /** Forced backend (settings.backend). */
  backend?: string;
  /** Inference runtime (settings.runtime): auto (onnxruntime when installed, else tfjs), onnxruntime[-cpu|-cuda], tfjs. */
  runtime?: string;
  /** onnxruntime intra-op threads per worker (default: the cores shared out among the workers, see threadsPerWorker). */
  threads?: number;
  log?: (line: string) => void;
  /** The worker script (tests point this at a broken one). */
  workerUrl?: URL;
}

/** Workers that die before they ever answer `init` this many times in a row mean the install is broken. */
const MAX_START_FAILURES = 3;

export function coreCount(): number {
  return Math.max(1, availableParallelism());
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);

export class DetectorEngine {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private state: BackendState | null = null;
  private startFailures = 0;
  private broken: StudioError | null = null;
  readonly size: number;

  constructor(private readonly options: EngineOptions = {}) {
    this.size = Math.max(1, options.workers ?? 1);
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = startWorker(this.options.workerUrl ?? WORKER_URL);
    const slot: Slot = { worker, busy: false, pending: new Map(), ready: Promise.resolve(null as unknown as BackendState) };
    let started = false;
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.pending.get(reply.id);
      if (!job) return;
      slot.pending.delete(reply.id);
      if (reply.ok) job.resolve(reply.result);
      else job.reject(new StudioError(reply.error.code as ErrorCode, reply.error.message, reply.error.subject));
    });
    let failed = false;
    const fail = (err: Error) => {
      // A crashing worker emits 'error' and then 'exit': handle it once, or two replacements start and
      // one of them is orphaned.
      if (failed) return;
      failed = true;
      for (const job of slot.pending.values()) job.reject(new StudioError('INTERNAL', `inference worker failed: ${err.message}`));
      slot.pending.clear();
      const i = this.slots.indexOf(slot);
      if (i < 0 || this.closed || this.broken) return;
      // A dead slot takes no jobs while its replacement starts.
      slot.busy = true;
      if (!started && ++this.startFailures >= MAX_START_FAILURES) {
        // Respawning a worker that cannot even start would spin forever: fail clearly instead.
        this.broken = new StudioError('INTERNAL', `inference workers cannot start (${this.startFailures} tries): ${err.message}`);
        this.options.log?.(`detector: ${this.broken.message}`);
        for (const job of this.queue.splice(0)) job.reject(this.broken);
        return;
      }
      const delay = started ? 0 : 200 * 2 ** (this.startFailures - 1);
      this.options.log?.(`detector: worker failed (${err.message}); starting a new one${delay ? ` in ${delay} ms` : ''}`);
      setTimeout(() => {
        if (this.closed || this.broken) return;
        this.slots[i] = this.spawn();
        this.pump();
      }, delay).unref();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed && code !== 0) fail(new Error(`exited with code ${code}`));
    });
    const threads = this.options.threads ?? threadsPerWorker(this.size, coreCount());
    slot.ready = this.send(slot, { request: { type: 'init', backend: this.options.backend, runtime: this.options.runtime, threads }, transfer: [] }).then((r) => (r as { state: BackendState }).state);
    slot.ready.then(
      () => {
        started = true;
        this.startFailures = 0;
      },
      () => {},
    );
    return slot;
  }

  private send(slot: Slot, job: Omit<Job, 'resolve' | 'reject'>): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const full: Job = { ...job, resolve, reject };
      slot.pending.set(id, full);
      slot.worker.postMessage({ ...job.request, id } as WorkerRequest, job.transfer);
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (slot.busy) continue;
      const job = this.queue.shift()!;
      slot.busy = true;
      const done = () => {
        slot.busy = false;
        this.pump();
      };
      this.send(slot, job).then(
        (r) => {
          job.resolve(r);
          done();
        },
        (e) => {
          job.reject(e);
          done();
        },
      );
    }
  }

  private run(request: Job['request'], transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    if (this.closed) return Promise.reject(new StudioError('CANCELLED', 'the detector engine is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject, transfer });
      this.pump();
    });
  }

  /** The backend the workers run (all workers start the same one). */
  async backend(): Promise<BackendState> {
    if (this.broken) throw this.broken;
    if (!this.state) this.state = await this.slots[0].ready;
    return this.state;
  }

  /**
   * Detect lesions in an RGB image. Pass `transfer: true` to hand the pixel buffer to the worker without
   * a copy (the caller's array becomes unusable).
   */
  async detect(modelDir: string, image: RGBImage, options: { threshold?: number; flips?: FlipSet; transfer?: boolean } = {}): Promise<RawDetection> {
    await this.backend();
    const transfer = options.transfer ? [image.data.buffer as ArrayBuffer] : [];
    const r = await this.run({ type: 'detect', modelDir, image, threshold: options.threshold, flips: options.flips }, transfer);
    return (r as { detection: RawDetection }).detection;
  }

  /**
   * How unlike the model's training images `image` looks to it, with the views a detection would use
   * (`flips`, else the card's); undefined for a model without appearance statistics.
   */
  async appearance(modelDir: string, image: RGBImage, options: { flips?: FlipSet; transfer?: boolean } = {}): Promise<{ score: number; threshold: number } | undefined> {
    await this.backend();
    const transfer = options.transfer ? [image.data.buffer as ArrayBuffer] : [];
    const r = (await this.run({ type: 'appearance', modelDir, image, flips: options.flips }, transfer)) as Extract<WorkerResult, { type: 'appearance' }>;
    return r.appearance;
  }

  async gradcam(modelDir: string, image: RGBImage, layer?: string): Promise<{ layer: string; map: Map2D; backend: string; note?: string }> {
    await this.backend();
    const r = (await this.run({ type: 'gradcam', modelDir, image, layer })) as Extract<WorkerResult, { type: 'gradcam' }>;
    return { layer: r.layer, map: r.map, backend: r.backend, note: r.note };
  }

  /** tf.memory() of the first worker (for leak checks). */
  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    await this.backend();
    const r = (await this.send(this.slots[0], { request: { type: 'memory' }, transfer: [] })) as Extract<WorkerResult, { type: 'memory' }>;
    return { numTensors: r.numTensors, numBytes: r.numBytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new StudioError('CANCELLED', 'the detector engine closed'));
    await Promise.allSettled(this.slots.map((s) => s.worker.terminate()));
    // A terminated worker never answers: settle what it held, or its callers (and the process) wait forever.
    for (const slot of this.slots) {
      for (const job of slot.pending.values()) job.reject(new StudioError('CANCELLED', 'the detector engine closed'));
      slot.pending.clear();
    }
  }
}
