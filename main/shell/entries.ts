/**
 * What the production build bundles for the main process besides the shell (electron.vite.config.ts),
 * kept apart so the build test can read it without loading the build tools. Paths are relative to the
 * project root; names are output paths under out/main, without `.js`.
 */

/** The services the shell loads (main/index.ts: loadServices), which plain Node can load too. */
export const SERVICE_ENTRIES: Record<string, string> = {
  services: 'main/services/index.ts',
  paths: 'main/host/paths.ts',
};

/**
 * Every module a worker thread starts on. Each service names its worker by a URL beside it (./worker.ts);
 * the build points that URL at the entry built here, and fails on a .ts URL that is not in this list, so a
 * new worker cannot be forgotten.
 */
export const WORKER_ENTRIES: Record<string, string> = {
  'detector/worker': 'main/detector/worker.ts',
  'training/worker': 'main/training/worker.ts',
  'training/gradient-worker': 'main/training/gradient-worker.ts',
  'evaluation/worker': 'main/evaluation/worker.ts',
  'imaging/codecs/worker': 'main/imaging/codecs/worker.ts',
};
