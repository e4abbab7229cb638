import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the analyze command.
export const command: Command = {
  summary: '(analyze: not built yet)',
  usage: 'studio analyze',
  async run() {
    throw new StudioError('UNSUPPORTED', 'analyze is not built yet');
  },
};
