/**
 * Where the compared models differ: the images of the comparison ordered by how far apart the models
 * are on them (Dice, lesions found at 1 FP/image, pointing), each a click away from the side-by-side
 * view with its ground truth outlined. A mean over 150 images hides the dozen cases that decide which
 * model to trust; this is where a reader finds them.
 */
import { useMemo, useState } from 'react';
import type { EvaluationReport } from '../../../preload/contract.ts';
import { type DiffOrder, differences, differs } from './differences.ts';
import { MAX_PANES } from './panes.ts';

const PAGE = 10;
const MIN_DICE = 0.1;

const ORDERS: { value: DiffOrder; label: string; says: (n: number, total: number) => string }[] = [
  { value: 'dice', label: 'Dice difference', says: (n, t) => `${n} of ${t} images differ in Dice by ${MIN_DICE} or more` },
  { value: 'found', label: 'Lesions found', says: (n, t) => `${n} of ${t} images differ in lesions found or false positives at 1 FP/image` },
  { value: 'pointed', label: 'Pointing', says: (n, t) => `${n} of ${t} images differ in whether the attention maximum lies in a lesion` },
];

export function Differences({ reports, opening, error, onOpen }: { reports: EvaluationReport[]; opening: string | null; error: string | null; onOpen(id: string): void }) {
  const [order, setOrder] = useState<DiffOrder>('dice');
  const [shown, setShown] = useState(PAGE);
  const rows = useMemo(() => differences(reports, order), [reports, order]);
  // New reports start again at the first page. Set while rendering, as React's docs do for state that
  // follows a prop: an effect would first paint the new rows at the old page's length, then render again.
  const [pagedFor, setPagedFor] = useState(reports);
  if (pagedFor !== reports) {
    setPagedFor(reports);
    setShown(PAGE);
  }
  if (!rows) {
    return (
      <p className="muted small" data-testid="compare-differences-none">
        Per-image differences need two or more models scored by this version of the studio.
      </p>
    );
  }
  const o = ORDERS.find((x) => x.value === order)!;
  const differing = rows.filter((r) => differs(r, order, MIN_DICE)).length;
  return (
    <section className="differences" data-testid="compare-differences" aria-label="where the models differ">
      <div className="differences-head">
        <h3 className="sbs-title">Where the models differ</h3>
        <label className="sbs-field">
          Order by
          <select value={order} onChange={(e) => (setOrder(e.target.value as DiffOrder), setShown(PAGE))} data-testid="differences-order">
            {ORDERS.map((x) => (
              <option key={x.value} value={x.value}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small" data-testid="differences-count">
          {o.says(differing, rows.length)}
        </span>
      </div>
      <p className="muted small differences-legend">
        Each cell: Dice · lesions found · false positives, both at 1 FP/image · whether the attention maximum lies in a lesion.
        {reports.length > MAX_PANES ? ` Side by side shows the first ${MAX_PANES} models.` : ''}
      </p>
      {error && (
        <p className="training-error" role="alert" data-testid="differences-error">
          {error}
        </p>
      )}
      <div className="table-scroll">
        <table className="metric-table" aria-label="per-image differences" data-testid="differences-table">
          <thead>
            <tr>
              <th>image</th>
              <th>lesions</th>
              {reports.map((r) => (
                <th key={r.model} className="text" title="Dice · lesions found at 1 FP/image · false positives there · attention maximum in a lesion">
                  {r.model}
                </th>
              ))}
              <th>
                <span className="sr-only">open</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, shown).map((row) => {
              const best = Math.max(...row.scores.map((s) => s.dice));
              return (
                <tr key={row.id} data-testid="differences-row" data-id={row.id}>
                  <th scope="row" title={row.id}>
                    {row.id}
                  </th>
                  <td title={row.lesions.min === row.lesions.max ? undefined : 'each model counts the lesions at its own input size'}>
                    {row.lesions.min === row.lesions.max ? row.lesions.min : `${row.lesions.min}–${row.lesions.max}`}
                  </td>
                  {row.scores.map((s, i) => (
                    <td key={reports[i].model} className="text differences-cell">
                      {row.diceSpread > 0 && s.dice === best ? (
                        <span className="best-value" title="the best Dice on this image">
                          {s.dice.toFixed(3)}
                          <span className="sr-only"> (best)</span>
                        </span>
                      ) : (
                        <span>{s.dice.toFixed(3)}</span>
                      )}
                      <span className={s.found < s.lesions ? 'miss' : 'muted'}>
                        {' '}
                        · {s.found}/{s.lesions}
                      </span>
                      <span className={s.falsePositives ? 'miss' : 'muted'}> · {s.falsePositives} FP</span>
                      {s.lesions > 0 && (
                        <span className={s.pointed ? 'muted' : 'miss'} title={s.pointed ? 'attention maximum inside a lesion' : 'attention maximum outside every lesion'}>
                          {' '}
                          · {s.pointed ? 'points' : 'misses'}
                        </span>
                      )}
                    </td>
                  ))}
                  <td>
                    <button type="button" aria-label={`Open ${row.id} side by side`} aria-busy={opening === row.id} onClick={() => opening === null && onOpen(row.id)} data-testid="differences-open">
                      {opening === row.id ? 'Opening…' : 'Side by side'}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {shown < rows.length && (
        <button type="button" onClick={() => setShown((n) => n + PAGE)} data-testid="differences-more">
          Show {Math.min(PAGE, rows.length - shown)} more of {rows.length - shown}
        </button>
      )}
    </section>
  );
}
