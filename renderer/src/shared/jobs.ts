/**
 * Calls whose answers a panel keeps by key (a detection per image, frame and model): each key's job is
 * running, done or failed, and the few most recent are kept (shared/recent.ts). A pure reducer, so the
 * rules are tested without React; hooks/useJobs.ts runs it.
 */
import { forget, remember } from './recent.ts';

/** A key with no job is idle. A re-run keeps the value it had (`last`), for a view that shows it meanwhile. */
export type Job<T> = { state: 'running'; last?: T } | { state: 'done'; value: T } | { state: 'error'; error: string; last?: T };

export type Jobs<T> = Readonly<Record<string, Job<T>>>;

export type JobAction<T> =
  | { type: 'start'; key: string }
  | { type: 'done'; key: string; value: T }
  | { type: 'fail'; key: string; error: string }
  | { type: 'forget'; key: string }
  | { type: 'clear' };

/** The value a job holds now: its answer, or while it runs again or after that failed, the one before. */
export function latest<T>(job: Job<T> | undefined): T | undefined {
  return !job ? undefined : job.state === 'done' ? job.value : job.last;
}

export function jobsReducer<T>(jobs: Jobs<T>, action: JobAction<T>, keep: number): Jobs<T> {
  switch (action.type) {
    case 'start': {
      const last = latest(jobs[action.key]);
      return remember<Job<T>>(jobs, action.key, last === undefined ? { state: 'running' } : { state: 'running', last }, keep);
    }
    case 'done':
      return remember<Job<T>>(jobs, action.key, { state: 'done', value: action.value }, keep);
    case 'fail': {
      const last = latest(jobs[action.key]);
      return remember<Job<T>>(jobs, action.key, last === undefined ? { state: 'error', error: action.error } : { state: 'error', error: action.error, last }, keep);
    }
    case 'forget':
      return forget(jobs, action.key);
    case 'clear':
      return Object.keys(jobs).length ? {} : jobs;
  }
}
