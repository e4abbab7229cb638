/** The evaluation channels: comparisons of models on a dataset split, and one sample with its ground truth. */
import type { Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../core/context.ts';
import { resolveProjectPath } from '../settings.ts';
import { datasetSample } from './sample.ts';
import { EvaluationService } from './service.ts';

type EvaluationChannels = 'evaluation.compare' | 'evaluation.cancel' | 'evaluation.sample';

export function createEvaluationHandlers(ctx: ServiceContext): { handlers: Pick<Handlers, EvaluationChannels>; close(): Promise<void> } {
  const service = new EvaluationService(ctx);
  return {
    handlers: {
      'evaluation.compare': async (req) => ({ reports: await service.compare(req) }),
      'evaluation.cancel': () => service.cancel(),
      // One sample's mask, decoded once on a click: sharp decodes off the event loop, so no worker is needed.
      'evaluation.sample': ({ data, id, format }) => datasetSample(resolveProjectPath(data), id, format),
    },
    close: () => service.close(),
  };
}
