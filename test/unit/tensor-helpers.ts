/** Helpers shared by the TensorFlow.js tests. */
import * as tf from '@tensorflow/tfjs';

/** Deterministic pseudo-random values in [-0.5, 0.5) (a tiny LCG), so failures reproduce. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Run `f` on another registered backend, then switch back. */
export function onBackend<T>(backend: string, f: () => T): T {
  const before = tf.getBackend();
  tf.setBackend(backend);
  try {
    return f();
  } finally {
    tf.setBackend(before);
  }
}
