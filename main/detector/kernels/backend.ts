/**
 * The backend training runs on: wasm with the studio's gradient kernels, falling back to cpu when wasm
 * cannot start. tfjs-node is not used for training (it cannot install here).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './index.ts';

export async function useBackend(preferred: 'wasm' | 'cpu' | undefined = (process.env.STUDIO_TRAIN_BACKEND as 'wasm' | 'cpu' | undefined)): Promise<string> {
  registerWasmGradientKernels();
  const order = preferred === 'cpu' ? ['cpu'] : ['wasm', 'cpu'];
  for (const name of order) {
    try {
      if (tf.getBackend() === name) return name;
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error('no TensorFlow.js backend could start');
}
