/**
 * `studio serve`: the studio in a browser on this machine. Prints one line, the URL with the run's token,
 * so scripts (and the end-to-end tests) can read it; everything else goes to stderr.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';
import { createHost } from '../../host/index.ts';
import { createServices } from '../../services/index.ts';
import { PROJECT_ROOT } from '../../settings.ts';
import { numberOption, parseArgs } from '../args.ts';

export const command: Command = {
  summary: 'serve the studio to a browser on 127.0.0.1 (prints the URL with its access token)',
  usage: 'studio serve [--port N] [--open-dir DIR]',
  async run(args) {
    const { positional, options } = parseArgs(args, { port: 'value', 'open-dir': 'value' });
    if (positional.length) throw new StudioError('INVALID_PAYLOAD', `unexpected argument '${positional[0]}'`);
    const port = numberOption(options, 'port', 0);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StudioError('INVALID_PAYLOAD', '--port must be an integer from 0 to 65535');
    const openDir = typeof options['open-dir'] === 'string' ? resolve(options['open-dir']) : undefined;
    if (openDir && !existsSync(openDir)) throw new StudioError('NOT_FOUND', `--open-dir: no such folder: ${openDir}`);
    if (!existsSync(join(PROJECT_ROOT, 'out', 'renderer', 'index.html'))) {
      process.stderr.write('studio serve: the renderer is not built; run `npm run build` (the API still answers)\n');
    }

    const services = createServices({ shell: 'browser' });
    if (openDir) {
      const opened = await services.dispatch('imaging.open', { paths: [openDir] });
      if (!opened.ok) process.stderr.write(`studio serve: --open-dir: ${opened.error.message}\n`);
      else {
        const { images, errors } = opened.value as { images: unknown[]; errors: { file: string; message: string }[] };
        process.stderr.write(`studio serve: opened ${images.length} image(s) from ${openDir}${errors.length ? `, ${errors.length} failed` : ''}\n`);
        for (const e of errors.slice(0, 20)) process.stderr.write(`  ${e.file}: ${e.message}\n`);
      }
    }

    // The folder opened at start may be opened again from the page: it is the user's own choice.
    const host = await createHost({ port, services, allow: openDir ? [openDir] : [] });
    process.stdout.write(`${host.url}\n`);

    await new Promise<void>((done) => {
      let closing = false;
      const stop = (signal: string) => {
        if (closing) return;
        closing = true;
        process.stderr.write(`studio serve: ${signal}, shutting down\n`);
        void Promise.allSettled([host.close(), services.close()]).then(() => done());
        // A stuck service must not keep the process alive past a second signal's patience.
        setTimeout(() => done(), 5000).unref();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    return 0;
  },
};
