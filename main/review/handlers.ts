/**
 * The review channels over the review store. The store opens lazily at `<homeDir>/review.sqlite` on the
 * first review call, so a studio that never reviews never creates the file; a store that cannot open is
 * reported on each call (and retried on the next, so fixing the file needs no restart).
 */
import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../core/context.ts';
import { type ReviewStore, defaultStorePath, openStore } from './store.ts';

type ReviewChannels = 'review.worklist' | 'review.findings' | 'review.decide' | 'review.add' | 'review.flag' | 'review.undo' | 'review.noLesion';

export interface ReviewService {
  handlers: Pick<Handlers, ReviewChannels>;
  close(): Promise<void>;
}

export function createReviewHandlers(ctx: ServiceContext, storeFile: string = defaultStorePath(ctx.settings)): ReviewService {
  let store: ReviewStore | undefined;
  const open = (): ReviewStore => {
    if (!store) {
      store = openStore(storeFile);
      ctx.log(`review store: ${store.file}`);
    }
    return store;
  };
  const changed = (imageId: number | undefined) => {
    if (imageId !== undefined) ctx.events.emit('review.changed', { imageId });
  };
  return {
    handlers: {
      'review.worklist': async (req) => open().worklist(req),
      'review.findings': async (req) => open().findings(req.imageId),
      'review.decide': async (req) => {
        const finding = open().decide(req);
        changed(finding.imageId);
        return finding;
      },
      'review.add': async (req) => {
        const finding = open().add(req);
        changed(finding.imageId);
        return finding;
      },
      'review.flag': async (req) => {
        const result = open().flag(req);
        changed(result.imageId);
        return result;
      },
      'review.noLesion': async (req) => {
        const result = open().confirmNoLesion(req);
        changed(result.imageId);
        return result;
      },
      'review.undo': async (req) => {
        const result = open().undo(req.reviewer);
        changed(result.imageId);
        return result.finding ? { undone: result.undone, finding: result.finding } : { undone: result.undone };
      },
    },
    async close() {
      store?.close();
      store = undefined;
    },
  };
}
