// The renderer alone (`npm run build:renderer`), for the browser host on a machine that never runs
// Electron. Same output as electron-vite's renderer build: out/renderer.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [react()],
  build: {
    outDir: resolve(here, '..', 'out', 'renderer'),
    emptyOutDir: true,
    minify: true,
    rollupOptions: { input: resolve(here, 'index.html') },
  },
});
