/** A training plan (`training.plan`) as the terminal shows it: one small table, what waits, and the problems. */
import type { PlanCounts, TrainingPlan } from '../../preload/contract.ts';

export function formatPlan(plan: TrainingPlan): string {
  const head = ['', 'images', 'lesion images', 'lesions', 'negatives'];
  const row = (name: string, c: PlanCounts) => [name, String(c.images), String(c.lesionImages), String(c.lesions), String(c.negatives)];
  const rows = [head, row('whole', plan), row('train', plan.split.train), row('val', plan.split.val), row('test', plan.split.test)];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  lines.push(`${plan.groups} group${plan.groups === 1 ? '' : 's'} kept whole by the split`);
  if (plan.waiting) lines.push(`waiting for a reader (left out): ${plan.waiting.unreviewed} unreviewed, ${plan.waiting.halfReviewed} half-reviewed; only fully reviewed images count`);
  for (const p of plan.problems) lines.push(`cannot train: ${p}`);
  return `${lines.join('\n')}\n`;
}
