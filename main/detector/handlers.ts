import type { BackendReport, Handlers } from '../../preload/contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { unavailable } from '../services/unavailable.ts';

type DetectorChannels = 'models.list' | 'detector.run' | 'detector.gradcam';

export interface DetectorService {
  handlers: Pick<Handlers, DetectorChannels>;
  backendReport(): Promise<BackendReport>;
  close(): Promise<void>;
}

// PLACEHOLDER: replaced by the detector engine.
export function createDetectorHandlers(_ctx: ServiceContext): DetectorService {
  const none = unavailable('the detector');
  return { handlers: { 'models.list': async () => [], 'detector.run': none, 'detector.gradcam': none }, backendReport: none, async close() {} };
}
