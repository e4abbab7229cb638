import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the train command.
export const command: Command = {
  summary: '(train: not built yet)',
  usage: 'studio train',
  async run() {
    throw new StudioError('UNSUPPORTED', 'train is not built yet');
  },
};
