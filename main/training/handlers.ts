/** The training and comparison channels, served by the TrainingManager (worker threads). */
import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { TrainingManager } from './manager.ts';

type TrainingChannels = 'training.start' | 'training.control' | 'training.list' | 'evaluation.compare' | 'evaluation.cancel';

export interface TrainingService {
  handlers: Pick<Handlers, TrainingChannels>;
  close(): Promise<void>;
}

export function createTrainingHandlers(ctx: ServiceContext): TrainingService {
  const manager = new TrainingManager(ctx);
  return {
    handlers: {
      'training.start': async (req) => manager.start(req),
      'training.control': async (req) => manager.control(req),
      'training.list': async () => manager.list(),
      'evaluation.compare': async (req) => ({ reports: await manager.compare(req) }),
      'evaluation.cancel': () => manager.cancelCompare(),
    },
    close: () => manager.close(),
  };
}
