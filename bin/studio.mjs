#!/usr/bin/env node
// The `studio` command. The services are TypeScript run through tsx's loader, so the CLI, the browser
// host, tests and worker threads all execute the same sources without a separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/cli/index.ts');
process.exitCode = await main(process.argv.slice(2));
