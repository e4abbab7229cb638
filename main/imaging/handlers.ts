import type { Handlers } from '../../preload/contract.ts';
import type { ImageProvider } from '../services/context.ts';
import { unavailable } from '../services/unavailable.ts';

type ImagingChannels = 'imaging.open' | 'imaging.upload' | 'imaging.list' | 'imaging.frame' | 'imaging.close';

export interface ImagingService {
  handlers: Pick<Handlers, ImagingChannels>;
  provider: ImageProvider;
  close(): Promise<void>;
}

// PLACEHOLDER: replaced by the imaging session.
export function createImagingHandlers(_options: { log(line: string): void }): ImagingService {
  const none = unavailable('imaging');
  return {
    handlers: { 'imaging.open': none, 'imaging.upload': none, 'imaging.list': none, 'imaging.frame': none, 'imaging.close': none },
    provider: { summary: () => { throw new Error('no imaging'); }, frame: none },
    async close() {},
  };
}
