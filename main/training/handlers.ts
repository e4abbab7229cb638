/** The training channels, served by the TrainingManager (a worker thread per run). */
import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../core/context.ts';
import { TrainingManager } from './manager.ts';

type TrainingChannels = 'training.start' | 'training.control' | 'training.list';

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
    },
    close: () => manager.close(),
  };
}
