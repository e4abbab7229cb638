/**
 * What a run would train on, shown before it starts: images, lesion images, lesions and lesion-free images
 * for the whole set and each part of its split, what a review store holds back, and why it cannot train.
 */
import type { PlanCounts } from '../../../preload/contract.ts';
import type { PlanState } from '../hooks/useTrainingPlan.ts';

const PARTS = ['whole', 'train', 'val', 'test'] as const;

export function PlanTable({ state, testId = 'training-plan' }: { state: PlanState; testId?: string }) {
  const { plan, loading, error } = state;
  if (!plan) {
    if (loading) return <p className="muted plan-note" data-testid={testId} data-state="loading">Counting the images…</p>;
    if (error) return <p className="training-error" role="alert" data-testid={testId} data-state="error">{error}</p>;
    return null;
  }
  const counts = (part: (typeof PARTS)[number]): PlanCounts => (part === 'whole' ? plan : plan.split[part]);
  return (
    <div className="plan" data-testid={testId} data-state={loading ? 'loading' : plan.problems.length ? 'refused' : 'ready'}>
      <table className="metric-table plan-table" aria-label="what the run would use">
        <thead>
          <tr>
            <th />
            <th title="Images the run would use">images</th>
            <th title="Images with at least one lesion">lesion images</th>
            <th title="Lesions: regions of 10 pixels or more in a mask, one per box">lesions</th>
            <th title="Lesion-free images: declared negatives, empty masks, images a reader found no lesion on">lesion-free</th>
          </tr>
        </thead>
        <tbody>
          {PARTS.map((part) => {
            const c = counts(part);
            return (
              <tr key={part} data-part={part}>
                <td>{part}</td>
                <td>{c.images}</td>
                <td>{c.lesionImages}</td>
                <td>{c.lesions}</td>
                <td>{c.negatives}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="muted plan-note">
        {plan.groups} group{plan.groups === 1 ? '' : 's'} kept whole by the split{loading ? ' · recounting…' : ''}
      </p>
      {plan.waiting && (
        <p className="muted plan-note" data-testid={`${testId}-waiting`}>
          Waiting for a reader, left out: {plan.waiting.unreviewed} unreviewed, {plan.waiting.halfReviewed} half-reviewed. Only fully reviewed images count.
        </p>
      )}
      {plan.problems.length > 0 && (
        <ul className="plan-problems training-error" role="alert" data-testid={`${testId}-problems`}>
          {plan.problems.map((p) => (
            <li key={p}>Cannot train: {p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
