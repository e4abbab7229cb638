import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { unavailable } from '../services/unavailable.ts';

type TrainingChannels = 'training.start' | 'training.control' | 'training.list' | 'evaluation.compare';

export interface TrainingService {
  handlers: Pick<Handlers, TrainingChannels>;
  close(): Promise<void>;
}

// PLACEHOLDER: replaced by the training manager.
export function createTrainingHandlers(_ctx: ServiceContext): TrainingService {
  const none = unavailable('training');
  return { handlers: { 'training.start': none, 'training.control': none, 'training.list': async () => [], 'evaluation.compare': none }, async close() {} };
}
