/**
 * The model list every panel picks from, loaded one way: fetched when a panel mounts and again whenever a
 * training run finishes (in any panel, or from another window on the same host), so a model trained in
 * this session is pickable everywhere without reloading the page.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { ModelInfo, StudioApi } from '../../../preload/contract.ts';

export interface ModelList {
  models: ModelInfo[];
  /** False until the first answer (or failure): a panel can say "Loading models…" meanwhile. */
  loaded: boolean;
  refresh(): void;
}

export function useModels(api: StudioApi, onError?: (e: Error) => void): ModelList {
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [loaded, setLoaded] = useState(false);
  // Callers pass a fresh closure each render: called through a ref, so a new one never refetches.
  const errorRef = useRef(onError);
  useLayoutEffect(() => {
    errorRef.current = onError;
  });
  const refresh = useCallback(() => {
    api['models.list']({}).then(
      (m) => {
        setModels(m);
        setLoaded(true);
      },
      (e: Error) => {
        setLoaded(true);
        errorRef.current?.(e);
      },
    );
  }, [api]);
  useEffect(() => {
    refresh();
    return api.on('training.progress', (p) => {
      if (p.state === 'finished') refresh();
    });
  }, [api, refresh]);
  return { models, loaded, refresh };
}
