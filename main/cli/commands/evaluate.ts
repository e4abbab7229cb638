import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the evaluate command.
export const command: Command = {
  summary: '(evaluate: not built yet)',
  usage: 'studio evaluate',
  async run() {
    throw new StudioError('UNSUPPORTED', 'evaluate is not built yet');
  },
};
