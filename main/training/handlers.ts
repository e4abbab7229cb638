/** The training channels, served by the TrainingManager (a worker thread per run). */
import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../core/context.ts';
import { TrainingManager } from './manager.ts';

type TrainingChannels = 'training.start' | 'training.control' | 'training.list' | 'training.plan' | 'training.adapt';

export interface TrainingService {
  handlers: Pick<Handlers, TrainingChannels>;
  close(): Promise<void>;
}

export function createTrainingHandlers(ctx: ServiceContext): TrainingService {
  const manager = new TrainingManager(ctx);
  return {
    handlers: {
      'training.start': (req) => manager.start(req),
      'training.control': async (req) => manager.control(req),
      'training.list': async () => manager.list(),
      'training.plan': (req) => manager.plan(req),
      'training.adapt': (req) => manager.adapt(req),
    },
    close: () => manager.close(),
  };
}
