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

/**
 * Run `f` with Math.random replaced by a seeded generator. TensorFlow.js draws the seed of every unseeded
 * random op (so every layer initializer) from Math.random: this makes a freshly built model reproducible.
 */
export function seeded<T>(seed: number, f: () => T): T {
  const random = Math.random;
  const draws = values(1 << 12, seed);
  let i = 0;
  Math.random = () => draws[i++ % draws.length] + 0.5;
  try {
    return f();
  } finally {
    Math.random = random;
  }
}
