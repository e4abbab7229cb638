/**
 * One "Adapt to this site" run as the Training panel follows it: started with `training.adapt`, followed
 * through the same 'training.progress' events as any run, and, once finished, the adapted model's card
 * (`card.site`: base and adapted on the site's held-out split) from the model list, which refetches on it.
 */
import { useState } from 'react';
import type { ModelInfo, Request, SiteAdaptation, StudioApi, TrainingProgress } from '../../../preload/contract.ts';
import { errorText } from '../shared/errors.ts';

export interface AdaptRun {
  runId: string;
  name: string;
  base: string;
}

export interface Adapt {
  start(request: Request<'training.adapt'>): Promise<string | undefined>;
  starting: boolean;
  error: string | null;
  /** The run this panel started last, its latest progress, and its site record once the model is listed. */
  started: AdaptRun | null;
  run: TrainingProgress | undefined;
  site: SiteAdaptation | undefined;
}

export function useAdapt(api: StudioApi, runs: ReadonlyMap<string, TrainingProgress>, models: readonly ModelInfo[]): Adapt {
  const [started, setStarted] = useState<AdaptRun | null>(null);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const start = async (request: Request<'training.adapt'>) => {
    setError(null);
    setStarting(true);
    try {
      const { runId } = await api['training.adapt'](request);
      setStarted({ runId, name: request.name, base: request.baseModel });
      return runId;
    } catch (e) {
      setError(errorText(e));
      return undefined;
    } finally {
      setStarting(false);
    }
  };
  const run = started ? runs.get(started.runId) : undefined;
  const site = started && run?.state === 'finished' ? models.find((m) => m.name === started.name)?.card.site : undefined;
  return { start, starting, error, started, run, site };
}
