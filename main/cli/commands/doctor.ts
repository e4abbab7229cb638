import type { Command } from '../index.ts';
import { StudioError } from '../../../preload/contract.ts';

// PLACEHOLDER: replaced by the doctor command.
export const command: Command = {
  summary: '(doctor: not built yet)',
  usage: 'studio doctor',
  async run() {
    throw new StudioError('UNSUPPORTED', 'doctor is not built yet');
  },
};
