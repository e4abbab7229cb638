import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const studio = (args: string[], env: NodeJS.ProcessEnv = process.env) => run(process.execPath, ['bin/studio.mjs', ...args], { cwd: new URL('../..', import.meta.url), timeout: 120_000, env });

test('studio doctor names the inference runtime, its backend, GPU use, and the TF.js backend training uses', async () => {
  const { stdout } = await studio(['doctor']);
  assert.match(stdout, /^runtime\s+(onnxruntime|tfjs)$/m);
  assert.match(stdout, /^backend\s+\S+/m);
  assert.match(stdout, /^gpu\s+(yes|no)$/m);
  assert.match(stdout, /^versions\s+node \d+/m);
  if (/^runtime\s+onnxruntime/m.test(stdout)) assert.match(stdout, /^training\s+TensorFlow\.js (tensorflow|wasm|cpu)/m);
  assert.match(stdout, /^kernels\s+studio train on wasm: (native conv kernels|wasm's own \(native kernels .+\))/m);
});

test('studio doctor says when training runs on wasm\'s own convolutions, and why', async () => {
  const { stdout } = await studio(['doctor', '--json'], { ...process.env, STUDIO_NATIVE_KERNELS: 'off' });
  const report = JSON.parse(stdout) as { training: { trainKernels: string } };
  assert.equal(report.training.trainKernels, "wasm's own (native kernels turned off (STUDIO_NATIVE_KERNELS=off))");
});

test('studio doctor --json is machine-readable and honours --backend cpu', async () => {
  const { stdout } = await studio(['doctor', '--json', '--runtime', 'tfjs', '--backend', 'cpu']);
  const report = JSON.parse(stdout) as { runtime: string; backend: string; gpu: boolean; training: { backend: string } };
  assert.equal(report.runtime, 'tfjs');
  assert.equal(report.backend, 'cpu');
  assert.equal(report.gpu, false);
  assert.equal(report.training.backend, 'cpu');
});

test('studio doctor refuses an unknown option with a clear error and a non-zero exit', async () => {
  await assert.rejects(studio(['doctor', '--bogus']), (err: { code: number; stderr: string }) => err.code !== 0 && /unknown option --bogus/.test(err.stderr));
});
