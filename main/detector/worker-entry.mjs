// Worker threads do not inherit tsx's loader when the parent registered it through the API (bin/studio.mjs)
// rather than `--import tsx`, so each worker registers it itself before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
