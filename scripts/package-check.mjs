#!/usr/bin/env node
/**
 * `npm run package:check`: packages the app for Linux (--dir) where Electron's binary cannot be had, and
 * checks what a real package would hold. electron-builder gets a stand-in Electron distribution: a file
 * carrying Electron's fuse wire (its sentinel and Electron 45's nine default fuses), so @electron/fuses
 * flips it exactly as it would flip the real binary. Then: the fuses read back as electron-builder.yml sets
 * them, and app.asar holds out/ and production node_modules only (no .ts, no tsx, esbuild or typescript),
 * with native addons unpacked and the models beside it; and the archive, extracted, runs its bundled
 * services in plain Node. About 30 s and 700 MB in a temporary folder.
 *
 * Native addons are not rebuilt for Electron here (npmRebuild off: that needs Electron's headers).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// @electron/fuses FuseV1Options, in wire order, with Electron's defaults.
const FUSES = [
  ['runAsNode', '1'],
  ['enableCookieEncryption', '0'],
  ['enableNodeOptionsEnvironmentVariable', '1'],
  ['enableNodeCliInspectArguments', '1'],
  ['enableEmbeddedAsarIntegrityValidation', '0'],
  ['onlyLoadAppFromAsar', '0'],
  ['loadBrowserProcessSpecificV8Snapshot', '0'],
  ['grantFileProtocolExtraPrivileges', '1'],
  ['wasmTrapHandlers', '1'],
];
const WANT = {
  runAsNode: '0',
  enableCookieEncryption: '1',
  enableNodeOptionsEnvironmentVariable: '0',
  enableNodeCliInspectArguments: '0',
  enableEmbeddedAsarIntegrityValidation: '1',
  onlyLoadAppFromAsar: '1',
  grantFileProtocolExtraPrivileges: '0',
};

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const work = mkdtempSync(join(tmpdir(), 'studio-package-'));
try {
  if (!process.argv.includes('--no-build')) {
    const build = spawnSync(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }
  const dist = join(work, 'electron-dist');
  mkdirSync(dist);
  const wire = FUSES.map(([, v]) => v).join('');
  writeFileSync(join(dist, 'electron'), Buffer.concat([Buffer.from('stand-in electron '), Buffer.from(SENTINEL), Buffer.from([1, FUSES.length]), Buffer.from(wire), Buffer.from('\n')]));
  chmodSync(join(dist, 'electron'), 0o755);
  const electronVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
  writeFileSync(join(dist, 'version'), electronVersion);

  const output = join(work, 'dist');
  const builder = join(root, 'node_modules', 'electron-builder', 'cli.js');
  const pack = spawnSync(process.execPath, [builder, '--dir', '--linux', '--publish', 'never', `-c.electronDist=${dist}`, `-c.electronVersion=${electronVersion}`, '-c.npmRebuild=false', `-c.directories.output=${output}`], {
    cwd: root,
    encoding: 'utf8',
  });
  check(pack.status === 0, 'electron-builder packaged the app (linux, --dir)');
  if (pack.status !== 0) {
    console.error(pack.stdout.slice(-3000), pack.stderr.slice(-3000));
    process.exit(1);
  }
  const app = join(output, 'linux-unpacked');
  const binary = readFileSync(join(app, 'attention-studio'));
  const at = binary.indexOf(SENTINEL) + SENTINEL.length;
  const flipped = binary.subarray(at + 2, at + 2 + binary[at + 1]).toString();
  FUSES.forEach(([name], i) => {
    if (name in WANT) check(flipped[i] === WANT[name], `fuse ${name} = ${flipped[i]}`);
  });

  const asar = createRequire(join(root, 'package.json'))('@electron/asar');
  const listing = asar.listPackage(join(app, 'resources', 'app.asar'), { isPack: false }).map((p) => p.replaceAll('\\', '/'));
  const top = new Set(listing.filter((p) => /^\/[^/]+$/.test(p)).map((p) => p.slice(1)));
  check([...top].sort().join(',') === 'node_modules,out,package.json', `app.asar holds only ${[...top].sort().join(', ')}`);
  check(!listing.some((p) => /\.tsx?$/.test(p) && !p.endsWith('.d.ts')), 'no TypeScript sources in app.asar');
  const shipped = (pkg) => listing.some((p) => p.startsWith(`/node_modules/${pkg}/`));
  for (const pkg of ['tsx', 'esbuild', '@esbuild', 'typescript', 'electron', 'electron-builder', 'vite', 'electron-vite']) check(!shipped(pkg), `${pkg} not shipped`);
  for (const entry of ['out/main/index.js', 'out/main/services.js', 'out/main/detector/worker.js', 'out/main/imaging/codecs/worker.js', 'out/renderer/index.html', 'out/preload/index.cjs']) {
    check(listing.includes(`/${entry}`), `${entry} in app.asar`);
  }
  check(existsSync(join(app, 'resources', 'app.asar.unpacked', 'node_modules', 'better-sqlite3')), 'better-sqlite3 unpacked beside app.asar');
  check(existsSync(join(app, 'resources', 'models')), 'models beside app.asar (resources/models)');

  // What the package holds is enough to run: the archive extracted (with its unpacked part) and its
  // bundled services run in plain Node against the models beside it, as main/index.ts points them.
  const extracted = join(work, 'app');
  asar.extractAll(join(app, 'resources', 'app.asar'), extracted);
  cpSync(join(app, 'resources', 'app.asar.unpacked'), extracted, { recursive: true });
  const smoke = join(work, 'smoke.mjs');
  writeFileSync(
    smoke,
    `import { createServices } from ${JSON.stringify(pathToFileURL(join(extracted, 'out', 'main', 'services.js')).href)};
const services = createServices({ shell: 'browser', log: () => {} });
const info = await services.dispatch('app.info', {});
const models = await services.dispatch('models.list', {});
await services.close();
console.log(JSON.stringify({ info: info.ok && info.value.version, models: models.ok ? models.value.map((m) => m.name) : models.error }));
`,
  );
  const run = spawnSync(process.execPath, [smoke], { cwd: work, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '', STUDIO_HOME: join(work, 'home'), STUDIO_MODELS_DIR: join(app, 'resources', 'models') } });
  const out = run.status === 0 ? JSON.parse(run.stdout.trim().split('\n').pop()) : undefined;
  check(!!out?.info, `the packaged services answer app.info in plain Node${run.status === 0 ? '' : `: ${run.stderr.slice(-600)}`}`);
  check(Array.isArray(out?.models) && out.models.length > 0, `the packaged services list the models beside the archive (${out?.models})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(failures.length ? `${failures.length} checks failed` : 'package check passed');
process.exit(failures.length ? 1 : 0);
