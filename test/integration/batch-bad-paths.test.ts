/**
 * A batch.start whose output folder or review store cannot be created (here: under /proc, where Node's
 * own recursive mkdir spins forever on ENOENT) fails that job with a clear message; it must not freeze
 * the process that serves the UI. Each case runs in a child process so a hang fails the test instead
 * of hanging the runner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const services = fileURLToPath(new URL('../../main/services/index.ts', import.meta.url));
const settings = fileURLToPath(new URL('../../main/settings.ts', import.meta.url));
const skip = existsSync('/proc/self') ? false : 'needs Linux /proc';

function runBatch(payload: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    import { createServices } from ${JSON.stringify(services)};
    import { loadSettings } from ${JSON.stringify(settings)};
    const home = mkdtempSync(join(tmpdir(), 'batch-bad-'));
    mkdirSync(join(home, 'models', 'm'), { recursive: true });
    writeFileSync(join(home, 'models', 'm', 'model.json'), '{}');
    const s = createServices({ shell: 'browser', settings: { ...loadSettings(), homeDir: home, modelsDir: join(home, 'models') }, log: () => {} });
    const final = new Promise((resolve) => s.events.subscribe((e, p) => { if (e === 'batch.progress' && p.state !== 'running') resolve(p); }));
    const started = await s.dispatch('batch.start', { inputs: [home], model: 'm', ...${payload} });
    const end = started.ok ? await final : started;
    await s.close();
    console.log(JSON.stringify(end));
  `;
  // A file, not --eval: worker threads inherit execArgv, and --input-type breaks them.
  const dir = mkdtempSync(join(tmpdir(), 'batch-bad-script-'));
  try {
    const file = join(dir, 'run.mts');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('batch.start with an output folder that cannot be created fails the job instead of freezing the process', { skip }, () => {
  const r = runBatch(`{ out: '/proc/studio-no-such/out' }`);
  assert.equal(r.status, 0, `child did not finish (status ${r.status}): ${r.stderr.slice(-500)}`);
  const end = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(end.state, 'failed');
  assert.match(end.message, /\/proc\/studio-no-such/);
});

test('batch.start with a review store path that cannot be created fails instead of freezing the process', { skip }, () => {
  const r = runBatch(`{ out: join(home, 'out'), store: '/proc/studio-no-such/review.sqlite' }`);
  assert.equal(r.status, 0, `child did not finish (status ${r.status}): ${r.stderr.slice(-500)}`);
  const end = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(end.state, "failed", JSON.stringify(end));
  assert.match(end.message, /\/proc\/studio-no-such/);
});
