/**
 * Start a worker thread on a module of the studio. Node 20 does not run a .ts worker through tsx, not even
 * with execArgv, when the parent registered tsx through its API (bin/studio.mjs, the Electron shell), so a
 * .ts module is loaded by a two-line entry that registers tsx first; a .js/.mjs module (a bundle, a test's
 * stand-in) starts as it is. One way for every worker, instead of an entry file copied beside each.
 *
 * In the Electron app the services are a bundle (electron.vite.config.ts): there the URL each service
 * names for its worker (./worker.ts beside it) has been rewritten at build time to that worker's entry
 * (out/main/<folder>/worker.js, listed in WORKER_ENTRIES), so only the first line below runs, and the tsx
 * branch is compiled into an error: the production build starts no TypeScript.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(module: URL, options: WorkerOptions = {}): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(entry, { ...options, eval: true });
}
