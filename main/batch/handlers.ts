import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { unavailable } from '../services/unavailable.ts';

type BatchChannels = 'batch.start' | 'batch.cancel';

export interface BatchService {
  handlers: Pick<Handlers, BatchChannels>;
  close(): Promise<void>;
}

// PLACEHOLDER: replaced by the batch runner.
export function createBatchHandlers(_ctx: ServiceContext): BatchService {
  const none = unavailable('batch analysis');
  return { handlers: { 'batch.start': none, 'batch.cancel': none }, async close() {} };
}
