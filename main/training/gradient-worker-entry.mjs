// See worker-entry.mjs: register tsx in the worker before loading its TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./gradient-worker.ts');
