/**
 * A data-parallel helper (see parallel.ts): holds a replica of the model, and for each step takes the
 * current weights and its share of the batch, and returns the loss and the gradients of the trainable
 * weights in `model.trainableWeights` order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import '../detector/io.ts'; // registers the custom attention layers for deserialisation
import { useBackend } from '../detector/kernels/backend.ts';
import { detectorObjective } from './objective.ts';

if (!parentPort) throw new Error('the gradient worker must run in a worker thread');
const port = parentPort;
const { topology, backend, attentionWeight } = workerData as { topology: string; backend: 'wasm' | 'cpu'; attentionWeight: number };

try {
  await useBackend(backend);
  const model = (await tf.models.modelFromJSON(JSON.parse(topology))) as tf.LayersModel;
  const objective = detectorObjective(model, attentionWeight);
  port.on('message', async (m: { type: 'step'; weights: Float32Array[]; x: Float32Array; y: Float32Array; n: number; size: number }) => {
    try {
      const s4 = m.size / 4;
      tf.tidy(() => model.setWeights(model.weights.map((w, i) => tf.tensor(m.weights[i], w.shape as number[]))));
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.tidy(() => {
        const x = tf.tensor4d(m.x, [m.n, m.size, m.size, 3]);
        const y = tf.tensor4d(m.y, [m.n, s4, s4, 1]);
        return tf.variableGrads(() => objective(x, y), vars);
      });
      const loss = (await value.data())[0];
      const out = vars.map((v) => new Float32Array(grads[v.name].dataSync() as Float32Array));
      tf.dispose([value, ...Object.values(grads)]);
      port.postMessage({ type: 'grads', loss, grads: out }, out.map((g) => g.buffer as ArrayBuffer));
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message });
    }
  });
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message });
}
