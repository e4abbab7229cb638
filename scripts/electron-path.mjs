// Where the Electron binary is, or why there is none. `require('electron')` downloads the binary on first
// use (Electron >= 42), so ask in a child process with a time limit: a blocked network must not hang us.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function electronBinary() {
  const probe = spawnSync(process.execPath, ['-e', "process.stdout.write(require('electron'))"], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const path = probe.stdout?.trim();
  if (probe.status === 0 && path && existsSync(path)) return { path };
  const lines = `${probe.stderr ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const reason = lines.find((l) => /failed|error|ENOTFOUND|EAI_AGAIN|ECONNREFUSED/i.test(l)) ?? (probe.error ? String(probe.error.message) : 'the binary could not be obtained');
  return { reason: reason.slice(0, 200) };
}
