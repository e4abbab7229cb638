/**
 * Keyed calls and their answers (shared/jobs.ts) as a hook: `run(key, task)` marks the key running and
 * stores the answer or the error under it. With a `schedule` the tasks wait their turn in it.
 */
import { useCallback, useLayoutEffect, useMemo, useReducer, useRef } from 'react';
import { errorText } from '../shared/errors.ts';
import { type JobAction, type Jobs, jobsReducer } from '../shared/jobs.ts';

/** Runs a task now or after others; either way the task's own promise comes back. */
export type Schedule = <R>(task: () => Promise<R>) => Promise<R>;

export const immediately: Schedule = (task) => task();

/** One task at a time, in the order given: a failed task does not stop the ones after it. */
export function useSerial(): Schedule {
  const tail = useRef<Promise<unknown>>(Promise.resolve());
  return useCallback(<R,>(task: () => Promise<R>) => {
    const next = tail.current.then(task, task);
    tail.current = next.catch(() => undefined);
    return next;
  }, []);
}

export interface JobsHandle<T> {
  jobs: Jobs<T>;
  /** Marks `key` running at once, then stores the task's answer or error; resolves to the answer, or undefined on error. */
  run(key: string, task: () => Promise<T>): Promise<T | undefined>;
  /** Whether `key` has a job, as of the last commit: for an effect that starts each key's job once. */
  has(key: string): boolean;
  forget(key: string): void;
  clear(): void;
}

export function useJobs<T>(keep: number, schedule: Schedule = immediately): JobsHandle<T> {
  const [jobs, dispatch] = useReducer((s: Jobs<T>, a: JobAction<T>) => jobsReducer(s, a, keep), {});
  const committed = useRef(jobs);
  useLayoutEffect(() => {
    committed.current = jobs;
  });
  const run = useCallback(
    (key: string, task: () => Promise<T>) => {
      dispatch({ type: 'start', key });
      return schedule(async () => {
        try {
          const value = await task();
          dispatch({ type: 'done', key, value });
          return value;
        } catch (err) {
          dispatch({ type: 'fail', key, error: errorText(err) });
          return undefined;
        }
      });
    },
    [schedule],
  );
  const has = useCallback((key: string) => key in committed.current, []);
  const forget = useCallback((key: string) => dispatch({ type: 'forget', key }), []);
  const clear = useCallback(() => dispatch({ type: 'clear' }), []);
  return useMemo(() => ({ jobs, run, has, forget, clear }), [jobs, run, has, forget, clear]);
}
