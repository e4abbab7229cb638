// Worker threads do not inherit tsx's loader when the parent registered it through the API (bin/studio.mjs,
// the Electron shell) rather than `--import tsx`, so the worker registers it before loading its TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
