import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the export command.
export const command: Command = {
  summary: '(export: not built yet)',
  usage: 'studio export',
  async run() {
    throw new StudioError('UNSUPPORTED', 'export is not built yet');
  },
};
