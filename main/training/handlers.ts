/** The training and comparison channels, served by the TrainingManager (worker threads). */
import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { TrainingManager } from './manager.ts';
import { datasetSample } from '../evaluation/sample.ts';
import { resolveProjectPath } from '../settings.ts';

type TrainingChannels = 'training.start' | 'training.control' | 'training.list' | 'evaluation.compare' | 'evaluation.cancel' | 'evaluation.sample';

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
      // One sample's mask, decoded once on a click: sharp decodes off the event loop, so no worker is needed.
      'evaluation.sample': ({ data, id, format }) => datasetSample(resolveProjectPath(data), id, format),
    },
    close: () => manager.close(),
  };
}
