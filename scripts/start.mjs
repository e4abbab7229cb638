#!/usr/bin/env node
// `npm start`: the Electron studio where its binary can be had, else the same renderer in the browser host.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { electronBinary } from './electron-path.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => spawn(cmd, args, { cwd: root, stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 1));

// An out/ from before the services were bundled lacks out/main/services.js: build then too.
if (!existsSync(join(root, 'out', 'renderer', 'index.html')) || !existsSync(join(root, 'out', 'main', 'services.js')) || process.argv.includes('--build')) {
  const build = spawnSync(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const electron = electronBinary();
if (electron.path) {
  run(electron.path, [root]);
} else {
  console.log(`Electron cannot launch here (${electron.reason}); starting the browser host instead.`);
  run(process.execPath, [join(root, 'bin', 'studio.mjs'), 'serve', ...process.argv.slice(2).filter((a) => a !== '--build')]);
}
