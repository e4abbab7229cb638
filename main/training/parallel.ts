/**
 * Data-parallel gradient steps over worker threads: wasm runs one thread per process under Node, so more
 * cores only help through more threads. Each step, the batch is split; helper threads (model replicas)
 * compute the gradients of their share with the current weights, this thread computes its own share,
 * and the size-weighted mean is applied once by the one optimizer. That equals the full-batch gradient
 * (the loss is a per-image mean), except that BatchNorm normalises each share with its own statistics
 * ("ghost batch norm"); the moving statistics are this thread's.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/worker.ts';
import * as tf from '@tensorflow/tfjs';
import { detectorObjective } from './objective.ts';

const WORKER_URL = new URL('./gradient-worker.ts', import.meta.url);

type Reply = { type: 'ready' } | { type: 'grads'; loss: number; grads: Float32Array[] } | { type: 'error'; message: string };

interface Helper {
  worker: Worker;
  next(): Promise<Reply>;
}

function helper(topology: string, backend: string, attentionWeight: number): Helper {
  const worker = startWorker(WORKER_URL, { workerData: { topology, backend, attentionWeight } });
  const queue: Reply[] = [];
  const waiters: ((r: Reply) => void)[] = [];
  const push = (r: Reply) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  };
  worker.on('message', push);
  worker.on('error', (e) => push({ type: 'error', message: e.message }));
  worker.on('exit', (code) => push({ type: 'error', message: `gradient worker exited (${code})` }));
  return { worker, next: () => (queue.length ? Promise.resolve(queue.shift() as Reply) : new Promise((r) => waiters.push(r))) };
}

async function expect<T extends Reply['type']>(h: Helper, type: T): Promise<Extract<Reply, { type: T }>> {
  const r = await h.next();
  if (r.type === 'error') throw new Error(`gradient worker: ${r.message}`);
  if (r.type !== type) throw new Error(`gradient worker: expected ${type}, got ${r.type}`);
  return r as Extract<Reply, { type: T }>;
}

export class GradientPool {
  private constructor(
    private readonly helpers: Helper[],
    private readonly attentionWeight: number,
  ) {}

  /**
   * `threads` in all, this one included; helpers load the model's topology and get weights each step.
   * Every thread minimises the same objective (`detectorObjective` with `attentionWeight`).
   */
  static async create(model: tf.LayersModel, threads: number, backend: string, attentionWeight: number): Promise<GradientPool> {
    const topology = JSON.stringify(model.toJSON(null, false));
    const helpers = Array.from({ length: Math.max(0, threads - 1) }, () => helper(topology, backend, attentionWeight));
    try {
      await Promise.all(helpers.map((h) => expect(h, 'ready')));
    } catch (err) {
      await Promise.all(helpers.map((h) => h.worker.terminate()));
      throw err;
    }
    return new GradientPool(helpers, attentionWeight);
  }

  get threads(): number {
    return this.helpers.length + 1;
  }

  /** One optimizer step on `n` images (x [n,S,S,3], y [n,S/4,S/4,1] as flat arrays); returns the batch loss. */
  async step(model: tf.LayersModel, optimizer: tf.Optimizer, x: Float32Array, y: Float32Array, n: number, size: number): Promise<number> {
    const s4 = size / 4;
    const perX = size * size * 3;
    const perY = s4 * s4;
    const parts = Math.min(this.threads, n);
    const counts = Array.from({ length: parts }, (_, k) => Math.floor(n / parts) + (k < n % parts ? 1 : 0));
    const trainable = model.trainableWeights;
    const weights = model.weights.map((w) => w.read().dataSync() as Float32Array);
    let offset = counts[0];
    const pending = this.helpers.slice(0, parts - 1).map((h, k) => {
      const c = counts[k + 1];
      const xs = x.slice(offset * perX, (offset + c) * perX);
      const ys = y.slice(offset * perY, (offset + c) * perY);
      offset += c;
      h.worker.postMessage({ type: 'step', weights, x: xs, y: ys, n: c, size }, [xs.buffer, ys.buffer]);
      return expect(h, 'grads').then((r) => ({ ...r, n: c }));
    });
    // This thread's share, while the helpers work on theirs.
    const vars = trainable.map((w) => w.read() as tf.Variable);
    const objective = detectorObjective(model, this.attentionWeight);
    const own = tf.tidy(() => {
      const xt = tf.tensor4d(x.subarray(0, counts[0] * perX), [counts[0], size, size, 3]);
      const yt = tf.tensor4d(y.subarray(0, counts[0] * perY), [counts[0], s4, s4, 1]);
      return tf.variableGrads(() => objective(xt, yt), vars);
    });
    const ownLoss = (await own.value.data())[0];
    const others = await Promise.all(pending);
    const grads: tf.NamedTensorMap = {};
    tf.tidy(() => {
      vars.forEach((v, i) => {
        let sum = tf.mul(own.grads[v.name], counts[0]);
        for (const o of others) sum = tf.add(sum, tf.mul(tf.tensor(o.grads[i], v.shape), o.n));
        grads[v.name] = tf.keep(tf.div(sum, n));
      });
    });
    optimizer.applyGradients(grads);
    tf.dispose([own.value, ...Object.values(own.grads), ...Object.values(grads)]);
    return (ownLoss * counts[0] + others.reduce((s, o) => s + o.loss * o.n, 0)) / n;
  }

  async close(): Promise<void> {
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}
