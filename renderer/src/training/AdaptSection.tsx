/**
 * "Adapt to this site": fine-tune a base model on the review store's reviewed images (`training.adapt`),
 * with what the store holds shown first, then base against adapted on the site's held-out sequences, and
 * plainly whether to use the adapted model.
 */
import { useState } from 'react';
import type { ModelInfo, SiteAdaptation, StudioApi, TrainingProgress } from '../../../preload/contract.ts';
import { fixed } from '../format.ts';
import { useTrainingPlan } from '../hooks/useTrainingPlan.ts';
import { PlanTable } from './PlanTable.tsx';
import { useAdapt } from './useAdapt.ts';

/** The verdict in plain words: use the adapted model, or keep the base. */
export function siteVerdict(site: Pick<SiteAdaptation, 'better'>, base: string): string {
  return site.better ? "better on this site's held-out sequences: use it" : `not better than the base: keep using ${base}`;
}

function SiteResult({ site, base, name }: { site: SiteAdaptation; base: string; name: string }) {
  const rows: [string, (m: SiteAdaptation['evaluation']['base']) => string][] = [
    ['Dice', (m) => fixed(m.dice)],
    ['sens @1 FP/img', (m) => fixed(m.sensitivity1FP)],
    ['FP / lesion-free img', (m) => fixed(m.fpPerNegativeImage ?? undefined, 2)],
  ];
  const held = site.counts.test;
  return (
    <div className="adapt-result" data-testid="adapt-result" data-better={site.better}>
      <p className="muted plan-note">
        On the site's held-out split: {held.images} images ({held.lesionImages} with {held.lesions} lesions, {held.negatives} lesion-free).
      </p>
      {/* The sidebar is narrow: the columns say base and adapted, the names go in the heading above and the titles. */}
      <p className="muted plan-note">
        base <strong>{base}</strong>, adapted <strong>{name}</strong>
      </p>
      <table className="metric-table site-table" aria-label="base and adapted on the site">
        <thead>
          <tr>
            <th />
            <th title={base}>base</th>
            <th title={name}>adapted</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, value]) => (
            <tr key={label}>
              <td>{label}</td>
              <td>{value(site.evaluation.base)}</td>
              <td>{value(site.evaluation.adapted)}</td>
            </tr>
          ))}
          {site.forgetting && (
            <tr title={`Findings per image on ${site.forgetting.images} lesion-free images ${base} held out from its own training: whether the adapted model forgot what normal tissue looks like`}>
              <td>FP / held-out normal img of the base</td>
              <td>{fixed(site.forgetting.base ?? undefined, 2)}</td>
              <td>{fixed(site.forgetting.adapted ?? undefined, 2)}</td>
            </tr>
          )}
        </tbody>
      </table>
      <p className={site.better ? 'adapt-verdict better' : 'adapt-verdict'} data-testid="adapt-verdict">
        {name} is {siteVerdict(site, base)}.
      </p>
      <p className="muted plan-note">{site.verdict}</p>
    </div>
  );
}

export function AdaptSection({ api, models, runs, onStarted, reviewStore }: { api: StudioApi; models: ModelInfo[]; runs: ReadonlyMap<string, TrainingProgress>; onStarted(runId: string): void; reviewStore?: string }) {
  const [base, setBase] = useState('');
  const [name, setName] = useState('');
  const [store, setStore] = useState('');
  const adapt = useAdapt(api, runs, models);
  // The store the run will read: the one given, else the studio's own (the Review panel's).
  const storePath = store.trim() || reviewStore || '';
  // Split as the adaptation splits (by sequence, its own shares): the counts are the run's.
  const planState = useTrainingPlan(api, storePath && base ? { data: storePath, format: 'review', adaptFrom: base } : null);
  const newName = name.trim() || (base ? `${base}-site` : '');
  const refused = Boolean(planState.plan?.problems.length) || Boolean(planState.error);
  const active = adapt.run && (adapt.run.state === 'queued' || adapt.run.state === 'running' || adapt.run.state === 'paused');
  const canAdapt = Boolean(base) && !adapt.starting && !active && !planState.loading && !refused;

  const start = async () => {
    const runId = await adapt.start({ name: newName, baseModel: base, ...(store.trim() ? { store: store.trim() } : {}) });
    if (runId) onStarted(runId);
  };

  return (
    <section className="adapt" aria-label="adapt to this site">
      <h2>Adapt to this site</h2>
      <p className="muted plan-note">Fine-tunes a model on the review store's fully reviewed images, split by sequence, then scores it against its base on the sequences held out.</p>
      <label>
        Base model
        <select aria-label="base model to adapt" value={base} onChange={(e) => setBase(e.target.value)}>
          <option value="">(pick a model)</option>
          {models.map((m) => (
            <option key={m.name} value={m.name}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        New model name
        <input aria-label="name of the adapted model" value={name} onChange={(e) => setName(e.target.value)} placeholder={base ? `${base}-site` : 'base-site'} />
      </label>
      <label title="The review store (SQLite) the site's readers reviewed in; empty: the studio's own, as the Review panel uses">
        Review store
        <input aria-label="review store to adapt to" value={store} onChange={(e) => setStore(e.target.value)} placeholder={reviewStore ?? "the studio's review store"} />
      </label>
      {storePath && base ? <PlanTable state={planState} testId="adapt-plan" /> : <p className="muted plan-note">Pick a base model to see what the store holds for it, split by sequence as the adaptation will split it.</p>}
      <button type="button" className="primary" disabled={!canAdapt} onClick={start} data-testid="adapt-start">
        Adapt {base || 'a model'}
      </button>
      {adapt.error && (
        <p className="training-error" role="alert">
          {adapt.error}
        </p>
      )}
      {adapt.started && adapt.run && adapt.run.state !== 'finished' && (
        <p className="muted plan-note" data-testid="adapt-status">
          {adapt.started.name} from {adapt.started.base}: {adapt.run.state}
          {adapt.run.message ? ` (${adapt.run.message})` : ''}
        </p>
      )}
      {adapt.started && adapt.run?.state === 'finished' && !adapt.site && <p className="muted plan-note">Reading {adapt.started.name}'s card…</p>}
      {adapt.started && adapt.site && <SiteResult site={adapt.site} base={adapt.started.base} name={adapt.started.name} />}
    </section>
  );
}
