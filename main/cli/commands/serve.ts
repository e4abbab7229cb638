import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the serve command.
export const command: Command = {
  summary: '(serve: not built yet)',
  usage: 'studio serve',
  async run() {
    throw new StudioError('UNSUPPORTED', 'serve is not built yet');
  },
};
