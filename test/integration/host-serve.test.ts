/** `studio serve` as a user runs it: one line on stdout with the URL and token, then a clean exit on a signal. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Envelope } from '../../preload/contract.ts';
import { decode, encode } from '../../preload/wire.ts';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { phantom, writeDicom } from '../e2e/dicom-fixture.ts';

function serve(args: string[] = []) {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), 'serve', '--port', '0', ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const firstLine = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout.on('data', () => {
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        resolve(stdout.split('\n')[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing; stderr: ${stderr}`)));
  });
  return { child, firstLine, output: () => ({ stdout, stderr }) };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`studio serve prints exactly one URL line with the token, answers the contract, and exits 0 on ${signal}`, async () => {
    const s = serve();
    try {
      const url = await s.firstLine;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
      const { origin, searchParams } = new URL(url);
      const res = await fetch(`${origin}/api/app.info`, { method: 'POST', headers: { 'x-studio-token': searchParams.get('token')! }, body: encode({}) as BufferSource });
      assert.equal(res.status, 200);
      const env = decode<Envelope<{ shell: string }>>(new Uint8Array(await res.arrayBuffer()));
      assert.ok(env.ok && env.value.shell === 'browser', JSON.stringify(env));
      const denied = await fetch(`${origin}/api/app.info`, { method: 'POST', body: encode({}) as BufferSource });
      assert.equal(denied.status, 401);

      const exited = once(s.child, 'exit');
      s.child.kill(signal);
      const timeout = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
      const [code] = await exited;
      clearTimeout(timeout);
      assert.equal(code, 0, `exit code; stderr: ${s.output().stderr}`);
      assert.equal(s.output().stdout.trimEnd().split('\n').length, 1, `stdout: ${s.output().stdout}`);
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });
}

test('studio serve refuses a bad port and a missing --open-dir with a clear message', async () => {
  for (const [args, pattern] of [
    [['--port', 'abc'], /--port must be a number/],
    [['--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['--open-dir', '/definitely/not/here'], /no such folder/],
  ] as const) {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'studio.mjs'), 'serve', ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'exit');
    assert.notEqual(code, 0);
    assert.match(stderr, pattern);
  }
});

test('studio serve --open-dir opens the folder before printing, so the page lists its images', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-serve-'));
  writeFileSync(join(dir, 'a.dcm'), writeDicom({ rows: 32, columns: 32, pixels: phantom(32, 32).pixels }));
  writeFileSync(join(dir, 'broken.dcm'), 'not dicom at all');
  const s = serve(['--open-dir', dir]);
  try {
    const { origin, searchParams } = new URL(await s.firstLine);
    const res = await fetch(`${origin}/api/imaging.list`, { method: 'POST', headers: { 'x-studio-token': searchParams.get('token')! }, body: encode({}) as BufferSource });
    const env = decode<Envelope<{ name: string }[]>>(new Uint8Array(await res.arrayBuffer()));
    assert.ok(env.ok, JSON.stringify(env));
    if (env.ok) assert.deepEqual(env.value.map((i) => i.name), ['a.dcm']);
    assert.match(s.output().stderr, /opened 1 image\(s\).*1 failed/);
    assert.match(s.output().stderr, /broken\.dcm/);
  } finally {
    s.child.kill('SIGTERM');
    await once(s.child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
});
