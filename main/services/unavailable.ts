import { StudioError } from '../../preload/contract.ts';

/** For a channel whose service is not present in this build (for example no store configured). */
export function unavailable(what: string): () => Promise<never> {
  return async () => {
    throw new StudioError('UNSUPPORTED', `${what} is not available in this build`);
  };
}
