import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { unavailable } from '../services/unavailable.ts';

type ReviewChannels = 'review.worklist' | 'review.findings' | 'review.decide' | 'review.add' | 'review.flag' | 'review.undo';

export interface ReviewService {
  handlers: Pick<Handlers, ReviewChannels>;
  close(): Promise<void>;
}

// PLACEHOLDER: replaced by the review store.
export function createReviewHandlers(_ctx: ServiceContext): ReviewService {
  const none = unavailable('review');
  return {
    handlers: { 'review.worklist': none, 'review.findings': none, 'review.decide': none, 'review.add': none, 'review.flag': none, 'review.undo': none },
    async close() {},
  };
}
