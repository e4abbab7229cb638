/**
 * The production build (electron.vite.config.ts, electron-builder.yml): the Electron app runs bundled
 * JavaScript only. The bundle holds the shell, the services and one entry per worker thread; nothing in it
 * loads tsx or a .ts module; plain Node (no tsx) loads the bundled services, answers app.info and runs a
 * detection on a shipped model through the bundled workers; the electron-builder configuration validates
 * against electron-builder's own schema, flips the fuses and keeps sources and the compiler out.
 *
 * Reuses out/ when it is newer than every source it is built from (scripts/test.mjs builds it before the
 * end-to-end suites); otherwise builds into node_modules/.cache, so it never rewrites out/ under a suite
 * that is serving it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../main/settings.ts';
import { SERVICE_ENTRIES, WORKER_ENTRIES } from '../../main/shell/entries.ts';
import { phantom, writeDicom } from '../e2e/dicom-fixture.ts';

const ROOT = PROJECT_ROOT;
const ENTRIES = ['index', ...Object.keys(SERVICE_ENTRIES), ...Object.keys(WORKER_ENTRIES)];

function files(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? files(full, keep) : keep(name) ? [full] : [];
  });
}

/** The newest change among what main's bundle is built from. */
function newestSource(): number {
  const inputs = [
    ...files(join(ROOT, 'main'), (n) => /\.(ts|mjs|js|json)$/.test(n)),
    ...files(join(ROOT, 'preload'), (n) => n.endsWith('.ts')),
    join(ROOT, 'electron.vite.config.ts'),
    join(ROOT, 'package.json'),
  ];
  return Math.max(...inputs.map((f) => statSync(f).mtimeMs));
}

let bundle = ''; // the folder holding main's bundle (…/main)

before(() => {
  const out = join(ROOT, 'out', 'main');
  const outputs = ENTRIES.map((e) => join(out, `${e}.js`));
  if (outputs.every(existsSync) && Math.min(...outputs.map((f) => statSync(f).mtimeMs)) > newestSource()) {
    bundle = out;
    return;
  }
  // Inside the project, so the bundle's bare imports resolve from its node_modules as out/'s do.
  const dir = join(ROOT, 'node_modules', '.cache', 'studio-build-test');
  rmSync(dir, { recursive: true, force: true });
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build', '--outDir', dir, '--logLevel', 'warn'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(build.status, 0, `electron-vite build failed:\n${build.stdout}\n${build.stderr}`);
  bundle = join(dir, 'main');
});

const bundled = () => files(bundle, (n) => n.endsWith('.js'));

test('the bundle holds the shell, the services and every worker entry, and each parses', () => {
  for (const entry of ENTRIES) assert.ok(existsSync(join(bundle, `${entry}.js`)), `missing ${entry}.js`);
  for (const file of bundled()) {
    const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${relative(bundle, file)} does not parse: ${check.stderr}`);
  }
});

test('every worker a service starts by URL is a bundle entry', () => {
  const named = new Set(Object.values(WORKER_ENTRIES).map((f) => resolve(ROOT, f)));
  for (const file of files(join(ROOT, 'main'), (n) => n.endsWith('.ts'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]+\.ts)['"]\s*,\s*import\.meta\.url\s*\)/g)) {
      assert.ok(named.has(resolve(dirname(file), m[1])), `${relative(ROOT, file)} starts ${m[1]}, which is not in WORKER_ENTRIES`);
    }
  }
});

test('nothing in the bundle loads tsx or a TypeScript module', () => {
  // What the build leaves of a source file's location: new URL("…/main/x.ts", import.meta.url).href, a path
  // that settings.ts and createRequire take a folder from. It is never imported or started.
  const location = /new URL\("(?:\.\.\/)+[^"]*main\/[^"]+\.ts", import\.meta\.url\)\.href/g;
  for (const file of bundled()) {
    const name = relative(bundle, file);
    const code = readFileSync(file, 'utf8');
    assert.doesNotMatch(code, /["'`]tsx(?:\/[^"'`]*)?["'`]/, `${name} names the tsx package`);
    assert.doesNotMatch(code, /import\.meta\.resolve\(/, `${name} resolves a module at run time`);
    assert.doesNotMatch(code, /__STUDIO_(SOURCE|OUTPUT)_URL__/, `${name} kept a build placeholder`);
    const rest = code.replace(location, '');
    assert.doesNotMatch(rest, /(?:\bfrom\s*|\bimport\s*\(\s*|new Worker\(\s*|new URL\(\s*|require\w*\(\s*)["'`][^"'`]*\.tsx?["'`]/, `${name} loads a .ts module`);
  }
  const shell = readFileSync(join(bundle, 'index.js'), 'utf8');
  assert.match(shell, /import\("\.\/services\.js"\)/, 'the shell loads the bundled services');
  assert.match(shell, /import\("\.\/paths\.js"\)/, 'the shell loads the bundled folder allowlist');
  assert.doesNotMatch(shell, /loadFile\(/, 'the page is served through app://, not file://');
  for (const [name, file] of Object.entries(WORKER_ENTRIES)) {
    const from = file.replace(/^main\//, '').replace(/\.ts$/, '.js');
    assert.equal(`${name}.js`, from, 'a worker entry is built where its source sits under main/');
  }
});

test('every import in the bundle resolves: its own chunks, Node built-ins, or a package in node_modules', () => {
  const req = createRequire(join(ROOT, 'package.json'));
  const builtins = new Set(req('node:module').builtinModules as string[]);
  for (const file of bundled()) {
    const code = readFileSync(file, 'utf8');
    for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*"([^"]+)"|import\("([^"]+)"\)|^import\s*"([^"]+)"/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        assert.ok(existsSync(resolve(dirname(file), spec)), `${relative(bundle, file)} imports missing ${spec}`);
        continue;
      }
      if (spec.startsWith('node:') || builtins.has(spec) || spec === 'electron') continue;
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      const optional = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node'].includes(pkg);
      assert.ok(optional || existsSync(join(ROOT, 'node_modules', pkg, 'package.json')), `${relative(bundle, file)} imports ${spec}, not installed`);
      const deps = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies: Record<string, string> };
      assert.ok(pkg in deps.dependencies || pkg in deps.optionalDependencies || optional, `${relative(bundle, file)} imports ${pkg}, which is not a production dependency (a package would lack it)`);
    }
  }
});

test('plain Node, without tsx, runs the bundled services: app.info, and a detection through the bundled workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-bundle-'));
  try {
    const image = join(dir, 'phantom.dcm');
    writeFileSync(image, writeDicom({ rows: 192, columns: 192, pixels: phantom(192, 192).pixels, window: { center: 40, width: 400 } }));
    const script = `
      import { createServices } from ${JSON.stringify(pathToFileURL(join(bundle, 'services.js')).href)};
      const lines = [];
      const services = createServices({ shell: 'browser', log: (line) => lines.push(line) });
      const call = async (channel, payload) => {
        const r = await services.dispatch(channel, payload);
        if (!r.ok) throw new Error(channel + ': ' + JSON.stringify(r.error));
        return r.value;
      };
      const info = await call('app.info', {});
      const models = (await call('models.list', {})).map((m) => m.name);
      const opened = await call('imaging.open', { paths: [${JSON.stringify(image)}] });
      const id = opened.images[0].id;
      const runs = [];
      for (const model of ['kvasir-cbam', 'busi-baseline']) {
        const r = await call('detector.run', { imageId: id, frame: 0, model });
        runs.push({ model, backend: r.backend, cells: r.heatmap.width * r.heatmap.height });
      }
      const workers = process.report.getReport().workers.length;
      await services.close();
      console.log(JSON.stringify({ info, models, runs, workers, loaded: process.execArgv }));
    `;
    // No --import tsx, no NODE_OPTIONS: a .ts module anywhere on this path would fail to load.
    const env: NodeJS.ProcessEnv = { ...process.env, STUDIO_HOME: join(dir, 'home'), NODE_OPTIONS: '' };
    delete env.TSX_TSCONFIG_PATH;
    const entry = join(dir, 'run.mjs');
    writeFileSync(entry, script);
    const run = spawnSync(process.execPath, [entry], { cwd: dir, env, encoding: 'utf8', timeout: 240_000 });
    assert.equal(run.status, 0, `bundled services failed:\n${run.stdout}\n${run.stderr.slice(-4000)}`);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      info: { version: string; shell: string };
      models: string[];
      runs: { model: string; backend: string; cells: number }[];
      workers: number;
      loaded: string[];
    };
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.deepEqual(result.loaded, [], 'the child ran without --import');
    assert.equal(result.info.version, version, 'the bundle finds the project root (package.json) as the sources do');
    assert.equal(result.info.shell, 'browser');
    assert.ok(result.models.includes('kvasir-cbam') && result.models.includes('busi-baseline'), `shipped models listed from the bundle: ${result.models.join(', ')}`);
    for (const r of result.runs) assert.ok(r.cells > 0, `${r.model} gave a heat map (${r.backend})`);
    // The imaging worker (DICOM parsing) and the detector worker, both started from their bundled entries.
    assert.ok(result.workers >= 2, `worker threads running: ${result.workers}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface BuilderConfig {
  asar?: boolean;
  files?: (string | { filter?: string[] })[];
  extraResources?: { from: string; to: string }[];
  electronFuses?: Record<string, boolean>;
  linux?: { target: string[] };
  mac?: { target: string[] };
  win?: { target: string[] };
}

test('the electron-builder configuration validates, flips the fuses, names the targets and ships no sources', async (t) => {
  const req = createRequire(join(ROOT, 'package.json'));
  let lib: { getConfig(dir: string): Promise<BuilderConfig>; validateConfiguration(c: BuilderConfig, log: { isEnabled: boolean; add(): void }): Promise<void> };
  try {
    lib = req('app-builder-lib/out/util/config/config.js') as typeof lib;
  } catch {
    return t.skip('electron-builder is not installed (a production install)');
  }
  const config = await lib.getConfig(ROOT);
  await lib.validateConfiguration(config, { isEnabled: false, add() {} });

  assert.deepEqual(config.electronFuses, {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
  });
  assert.equal(config.asar, true);
  assert.deepEqual(config.linux?.target, ['AppImage', 'deb']);
  assert.deepEqual(config.mac?.target, ['dmg']);
  assert.deepEqual(config.win?.target, ['nsis']);
  assert.ok(config.extraResources?.some((r) => r.from === 'models' && r.to === 'models'), 'shipped models outside the archive');

  // electron-builder's `files`: a path ships when a pattern takes it and no `!` pattern drops it.
  const { matchesGlob } = (await import('node:path')) as unknown as { matchesGlob(path: string, glob: string): boolean };
  // getConfig normalises `files` into file sets with the patterns as their filter.
  const patterns = (config.files ?? []).flatMap((f) => (typeof f === 'string' ? [f] : (f.filter ?? [])));
  assert.ok(patterns.length > 0, 'files lists what ships');
  const ships = (path: string) => patterns.some((p) => !p.startsWith('!') && matchesGlob(path, p)) && !patterns.some((p) => p.startsWith('!') && matchesGlob(path, p.slice(1)));
  const nodeModule = (path: string) => !patterns.some((p) => p.startsWith('!') && matchesGlob(path, p.slice(1)));
  for (const entry of ENTRIES) assert.ok(ships(`out/main/${entry}.js`), `out/main/${entry}.js ships`);
  assert.ok(ships('out/renderer/index.html') && ships('out/preload/index.cjs'));
  for (const path of ['main/index.ts', 'main/services/index.ts', 'preload/contract.ts', 'renderer/src/main.tsx', 'tsconfig.json', 'build/native/studio_kernels.node', 'out/main/index.js.map']) {
    assert.ok(!ships(path), `${path} must not ship`);
  }
  // Production node_modules are added by electron-builder, filtered by the same `!` patterns.
  for (const path of ['node_modules/tsx/dist/cli.mjs', 'node_modules/esbuild/lib/main.js', 'node_modules/@esbuild/linux-x64/bin/esbuild', 'node_modules/typescript/lib/typescript.js', 'node_modules/zod/index.d.ts']) {
    assert.ok(!nodeModule(path), `${path} must not ship`);
  }
  for (const path of ['node_modules/zod/index.js', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'node_modules/sharp/lib/index.js']) {
    assert.ok(nodeModule(path), `${path} ships`);
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; scripts: Record<string, string> };
  assert.equal(resolve(ROOT, pkg.main), join(ROOT, 'out', 'main', 'index.js'), "the app's entry is the bundled shell");
  assert.match(pkg.scripts.package, /electron-vite build && electron-builder/);
});
