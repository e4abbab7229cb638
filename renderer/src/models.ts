/**
 * The model list every panel picks from. It is fetched once per panel and again whenever a training run
 * finishes (in any panel, or from another window on the same host), so a model trained in this session is
 * pickable everywhere without reloading the page.
 */
import { useCallback, useEffect, useState } from 'react';
import type { ModelInfo, StudioApi } from '../../preload/contract.ts';

export function useModels(api: StudioApi, onError: (e: Error) => void): { models: ModelInfo[]; refresh: () => void } {
  const [models, setModels] = useState<ModelInfo[]>([]);
  const refresh = useCallback(() => {
    api['models.list']({}).then(setModels, onError);
    // Not a dependency: callers pass a fresh closure each render, which must not refetch in a loop.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api]);
  useEffect(() => {
    refresh();
    return api.on('training.progress', (p) => {
      if (p.state === 'finished') refresh();
    });
  }, [api, refresh]);
  return { models, refresh };
}
