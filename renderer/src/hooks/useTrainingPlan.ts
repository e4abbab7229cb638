/**
 * What a run with the form's settings would train on (`training.plan`), asked again whenever they change:
 * after a short pause in typing, so a path typed letter by letter is not counted at every letter, and an
 * answer to settings since changed is dropped.
 */
import { useEffect, useState } from 'react';
import type { Request, StudioApi, TrainingPlan } from '../../../preload/contract.ts';
import { errorText } from '../shared/errors.ts';

export interface PlanState {
  /** The plan for the settings now asked about; while `loading`, the last one known (null: none yet). */
  plan: TrainingPlan | null;
  /** A plan is being read for the settings now asked about. */
  loading: boolean;
  error: string | null;
}

const IDLE: PlanState = { plan: null, loading: false, error: null };

/** `request` null: nothing to plan (no data folder yet). */
export function useTrainingPlan(api: StudioApi, request: Request<'training.plan'> | null, delayMs = 400): PlanState {
  // Keyed by the request's content, so a new but equal object each render does not ask again.
  const key = request ? JSON.stringify(request) : '';
  // The answer and the settings it answers: until the answer for the current ones lands, the plan is loading.
  const [answer, setAnswer] = useState<{ key: string; value: PlanState } | null>(null);
  // A review store's plan changes as its readers decide, without any setting changing here: each decision
  // (review.changed) asks again, after the same pause.
  const review = request?.format === 'review';
  const [decisions, setDecisions] = useState(0);
  useEffect(() => (review ? api.on('review.changed', () => setDecisions((n) => n + 1)) : undefined), [api, review]);
  useEffect(() => {
    if (!key) return;
    let current = true;
    const timer = setTimeout(() => {
      api['training.plan'](JSON.parse(key) as Request<'training.plan'>).then(
        (plan) => current && setAnswer({ key, value: { plan, loading: false, error: null } }),
        (err: unknown) => current && setAnswer({ key, value: { plan: null, loading: false, error: errorText(err) } }),
      );
    }, delayMs);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api, key, delayMs, decisions]);
  if (!key) return IDLE;
  if (answer?.key === key) return answer.value;
  // The last plan stays shown while the new one is counted, so the table does not blink at each keystroke.
  return { plan: answer?.value.plan ?? null, loading: true, error: null };
}
