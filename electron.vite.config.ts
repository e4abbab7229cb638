import { dirname, join, relative, resolve, sep } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { SERVICE_ENTRIES, WORKER_ENTRIES } from './main/shell/entries.ts';

// Three bundles: the Electron shell with the services (out/main), the preload (out/preload) and the
// renderer (out/renderer, which the browser host serves as well). The CLI, the browser host and the tests
// still run the TypeScript sources through tsx; the Electron app runs only the JavaScript built here, so a
// package carries no TypeScript compiler and no sources (electron-builder.yml).

const MAIN = resolve(__dirname, 'main');

/** Packages loaded from node_modules at run time: native addons, wasm, and what loads them by path. */
const NATIVE_OR_WASM = [
  'better-sqlite3',
  'sharp',
  'onnxruntime-node',
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  '@cornerstonejs/codec-charls',
  '@cornerstonejs/codec-libjpeg-turbo-8bit',
  '@cornerstonejs/codec-openjpeg',
  '@cornerstonejs/codec-openjph',
  'dcmjs',
];

// The worker entries (main/shell/entries.ts, WORKER_ENTRIES) are built to out/main/<folder>/worker.js,
// beside where their sources sit under main/.

const posix = (path: string) => path.split(sep).join('/');
const SOURCE = '__STUDIO_SOURCE_URL__';
const OUTPUT = '__STUDIO_OUTPUT_URL__';

/**
 * Keeps the services' file locations what they are in the source tree, so one code path serves tsx and
 * the bundle:
 * - `new URL('./worker.ts', import.meta.url)` becomes the URL of that worker's built entry (.js);
 * - every other `import.meta.url` in main/ (except the shell's own index.ts) becomes the URL of the
 *   module's source file, relative to the chunk it lands in: settings.ts finds the project root (models/,
 *   package.json) one folder up from main/ either way, wherever rollup puts the code;
 * - `import.meta.resolve('tsx/esm/api')` (how a .ts worker registers tsx) becomes an error: the bundle
 *   starts no TypeScript, and carries no reference to tsx;
 * - a module's own `const require = createRequire(import.meta.url)` is renamed, since electron-vite adds
 *   a `const require` of its own to every ESM chunk that calls `require(` (two in one scope do not parse).
 */
function sourceLocations(): Plugin {
  // Where main's bundle goes (out/main, or elsewhere with `electron-vite build --outDir`).
  let outDir = resolve(__dirname, 'out/main');
  const byFile = new Map(Object.entries(WORKER_ENTRIES).map(([name, file]) => [resolve(__dirname, file), name]));
  return {
    name: 'studio:source-locations',
    enforce: 'pre',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    transform(code, id) {
      const file = id.split('?')[0];
      if (!file.startsWith(MAIN + sep) || file === join(MAIN, 'index.ts') || !code.includes('import.meta')) return null;
      let out = code.replace(/new URL\(\s*(['"])(\.{1,2}\/[^'"]+?\.ts)\1\s*,\s*import\.meta\.url\s*\)/g, (_m, _q, rel: string) => {
        const target = resolve(dirname(file), rel);
        const name = byFile.get(target);
        if (!name) this.error(`${posix(relative(__dirname, file))} names ${rel} by URL, which is no bundle entry: add it to WORKER_ENTRIES`);
        return `new URL(${JSON.stringify(`${OUTPUT}${name}.js`)})`;
      });
      out = out.replace(/import\.meta\.resolve\(\s*(['"])tsx[^'"]*\1\s*\)/g, "(() => { throw new Error('the production build starts no TypeScript module'); })()");
      if (/\bconst require = createRequire\(/.test(out)) out = out.replace(/\brequire\b/g, 'requireHere');
      out = out.replace(/import\.meta\.url\b/g, JSON.stringify(`${SOURCE}${posix(relative(__dirname, file))}`));
      return { code: out, map: null };
    },
    renderChunk(code, chunk) {
      if (!code.includes(SOURCE) && !code.includes(OUTPUT)) return null;
      const chunkDir = dirname(join(outDir, chunk.fileName));
      const from = (target: string) => {
        const rel = posix(relative(chunkDir, target));
        return rel.startsWith('.') ? rel : `./${rel}`;
      };
      const out = code
        .replace(new RegExp(`new URL\\((["'\`])${OUTPUT}([^"'\`]+)\\1\\)`, 'g'), (_m, _q, name: string) => `new URL(${JSON.stringify(from(join(outDir, name)))}, import.meta.url)`)
        .replace(new RegExp(`(["'\`])${SOURCE}([^"'\`]+)\\1`, 'g'), (_m, _q, path: string) => `new URL(${JSON.stringify(from(resolve(__dirname, path)))}, import.meta.url).href`);
      return { code: out, map: null };
    },
  };
}

export default defineConfig({
  main: {
    plugins: [sourceLocations()],
    build: {
      outDir: 'out/main',
      // Dependencies stay in node_modules (electron-vite's default for `dependencies`); these are named
      // too, since some are optional and none can be bundled (native addons, wasm found by path).
      externalizeDeps: { include: NATIVE_OR_WASM },
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'main/index.ts'),
          // What the shell loads (main/index.ts: loadServices), and one entry per worker thread.
          ...Object.fromEntries(Object.entries(SERVICE_ENTRIES).map(([name, file]) => [name, resolve(__dirname, file)])),
          ...Object.fromEntries(Object.entries(WORKER_ENTRIES).map(([name, file]) => [name, resolve(__dirname, file)])),
        },
        output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: { input: { index: resolve(__dirname, 'preload/index.ts') }, output: { format: 'cjs', entryFileNames: '[name].cjs' } },
    },
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    base: './',
    plugins: [react()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      emptyOutDir: true,
      // The browser host serves this bundle too: keep it small.
      minify: true,
      rollupOptions: { input: resolve(__dirname, 'renderer/index.html') },
    },
  },
});
