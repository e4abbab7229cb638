import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the decode command.
export const command: Command = {
  summary: '(decode: not built yet)',
  usage: 'studio decode',
  async run() {
    throw new StudioError('UNSUPPORTED', 'decode is not built yet');
  },
};
