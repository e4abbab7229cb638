/**
 * Training: pick a dataset and a variant, set the hyperparameters, start; follow the run live (loss and
 * validation curves from 'training.progress' events), pause, resume or cancel it. A finished run's model
 * shows up in the model list (and in the viewer's and the compare view's model pickers).
 */
import { useEffect, useMemo, useState } from 'react';
import { AUGMENTATION_PRESETS, type AugmentationPreset, describeAugmentation, TRAINING_DEFAULTS, hasSpatialGates, type StudioApi, type TrainingProgress, VARIANTS, type Variant } from '../../../preload/contract.ts';
import { clock as eta, fixed } from '../format.ts';
import { LineChart, PALETTE } from './LineChart.tsx';
import { useModels } from '../hooks/useModels.ts';
import { useTrainingPlan } from '../hooks/useTrainingPlan.ts';
import { commaList } from '../../../preload/lists.ts';
import { AdaptSection } from './AdaptSection.tsx';
import { PlanTable } from './PlanTable.tsx';
import './training.css';

interface Form {
  name: string;
  data: string;
  format: 'masks' | 'coco' | 'review';
  variant: Variant;
  epochs: number;
  batchSize: number;
  inputSize: number;
  learningRate: number;
  seed: number;
  limit: string;
  /** Folders of lesion-free images, comma-separated. */
  negatives: string;
  baseModel: string;
  /** Kept as typed: an emptied field means the default, not 0 (unsupervised). */
  attentionWeight: string;
  augmentation: AugmentationPreset;
}

// The contract's defaults, as `studio train` and the services apply them.
const D = TRAINING_DEFAULTS;
const INITIAL: Form = { name: '', data: '', format: D.format, variant: 'cbam', epochs: D.epochs, batchSize: D.batchSize, inputSize: D.inputSize, learningRate: D.learningRate, seed: D.seed, limit: '', negatives: '', baseModel: '', attentionWeight: String(D.attentionWeight), augmentation: D.augmentation };


export function TrainingPanel({ api, reviewStore }: { api: StudioApi; reviewStore?: string }) {
  const [form, setForm] = useState<Form>(INITIAL);
  const [runs, setRuns] = useState<Map<string, TrainingProgress>>(new Map());
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { models } = useModels(api, (e) => setError(e.message));
  const [busy, setBusy] = useState(false);
  /** Per-step losses of the selected run, for the live curve inside an epoch. */
  const [stepLoss, setStepLoss] = useState<{ x: number; y: number }[]>([]);

  useEffect(() => {
    api['training.list']({}).then((list) => {
      setRuns(new Map(list.map((p) => [p.runId, p])));
      if (list.length) setSelected((s) => s ?? list[list.length - 1].runId);
    }, () => {});
    return api.on('training.progress', (p) => {
      setRuns((m) => new Map(m).set(p.runId, p));
      setSelected((s) => s ?? p.runId);
    });
  }, [api]);

  const run = selected ? runs.get(selected) : undefined;

  // Each progress event of the selected run adds a point; another run starts an empty curve. Kept while
  // rendering, against the run last seen, as React's docs do for state that follows a prop (effects
  // would render each event twice).
  const [lossSeen, setLossSeen] = useState({ selected, run });
  if (lossSeen.selected !== selected || lossSeen.run !== run) {
    setLossSeen({ selected, run });
    let pts = lossSeen.selected === selected || !stepLoss.length ? stepLoss : [];
    if (run && run.state === 'running' && Number.isFinite(run.loss) && run.steps !== 0) {
      const x = run.epoch - 1 + run.step / run.steps;
      if (!(pts.length && pts[pts.length - 1].x >= x)) pts = [...pts.slice(-400), { x, y: run.loss }];
    }
    if (pts !== stepLoss) setStepLoss(pts);
  }

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  // What the run would train on, recounted when the data it depends on changes (not the hyperparameters).
  const negatives = commaList(form.negatives);
  const planState = useTrainingPlan(
    api,
    form.data.trim()
      ? { data: form.data.trim(), format: form.format, seed: form.seed, ...(negatives.length ? { negatives } : {}), ...(form.limit.trim() ? { limit: Number(form.limit) } : {}) }
      : null,
  );
  const plan = planState.plan;

  const start = async () => {
    setError(null);
    setBusy(true);
    try {
      const { runId } = await api['training.start']({
        name: form.name.trim(),
        data: form.data.trim(),
        format: form.format,
        variant: form.variant,
        epochs: form.epochs,
        batchSize: form.batchSize,
        inputSize: form.inputSize,
        learningRate: form.learningRate,
        seed: form.seed,
        augmentation: form.augmentation,
        ...(form.attentionWeight.trim() ? { attentionWeight: Number(form.attentionWeight) } : {}),
        ...(form.limit.trim() ? { limit: Number(form.limit) } : {}),
        ...(negatives.length ? { negatives } : {}),
        ...(form.baseModel ? { baseModel: form.baseModel } : {}),
      });
      setSelected(runId);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const control = async (action: 'pause' | 'resume' | 'cancel') => {
    if (!run) return;
    try {
      const p = await api['training.control']({ runId: run.runId, action });
      setRuns((m) => new Map(m).set(p.runId, p));
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const lossSeries = useMemo(
    () => [
      // The running loss first, so the epoch loss is drawn over it rather than hidden under it.
      { name: 'running loss', colour: '#6b7a8c', points: stepLoss },
      { name: 'epoch loss', colour: PALETTE[0], points: (run?.history ?? []).map((h) => ({ x: h.epoch, y: h.loss })) },
    ],
    [run, stepLoss],
  );
  const valSeries = useMemo(
    () => [
      { name: 'val Dice', colour: PALETTE[1], points: (run?.history ?? []).filter((h) => h.valDice !== undefined).map((h) => ({ x: h.epoch, y: h.valDice as number })) },
      { name: 'val sensitivity @1 FP/img', colour: PALETTE[3], points: (run?.history ?? []).filter((h) => h.valSensitivity1FP !== undefined).map((h) => ({ x: h.epoch, y: h.valSensitivity1FP as number })) },
    ],
    [run],
  );

  const active = run && (run.state === 'running' || run.state === 'paused' || run.state === 'queued');
  // A set the plan refuses cannot start (the service would refuse it too, with the same reasons).
  const trainable = !planState.loading && !planState.error && plan !== null && plan.problems.length === 0;
  const canStart = form.name.trim() && form.data.trim() && trainable && !busy;

  return (
    <div className="training">
      <aside className="training-form">
        <h2>New training run</h2>
        <label>
          Model name
          <input value={form.name} onChange={(e) => set('name', e.target.value)} placeholder="kvasir-cbam-2" aria-label="model name" />
        </label>
        <label>
          Dataset folder
          <input value={form.data} onChange={(e) => set('data', e.target.value)} placeholder="/data/kvasir-seg" aria-label="dataset folder" />
        </label>
        <label title="Folders of images with no lesion (normal frames), comma-separated: split by the same rule and trained on beside the dataset, so the model learns what nothing looks like">
          Lesion-free images (optional)
          <input value={form.negatives} onChange={(e) => set('negatives', e.target.value)} placeholder="/data/normal-frames" aria-label="lesion-free images folder" />
        </label>
        <label>
          Format
          <select value={form.format} onChange={(e) => set('format', e.target.value as Form['format'])}>
            <option value="masks">images/ + masks/</option>
            <option value="coco">COCO boxes (JSON)</option>
            <option value="review">review store</option>
          </select>
        </label>
        <label>
          Variant
          <select value={form.variant} onChange={(e) => set('variant', e.target.value as Variant)} aria-label="variant">
            {VARIANTS.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <div className="form-grid">
          <label>
            Epochs
            <input type="number" min={1} max={1000} aria-label="epochs" value={form.epochs} onChange={(e) => set('epochs', Number(e.target.value))} />
          </label>
          <label>
            Batch
            <input type="number" min={1} max={256} aria-label="batch size" value={form.batchSize} onChange={(e) => set('batchSize', Number(e.target.value))} />
          </label>
          <label>
            Input size
            <select aria-label="input size" value={form.inputSize} onChange={(e) => set('inputSize', Number(e.target.value))}>
              {[64, 96, 128, 160, 192, 224, 256, 320, 384, 512].map((s) => (
                <option key={s} value={s}>
                  {s}²
                </option>
              ))}
            </select>
          </label>
          <label>
            Learning rate
            <input type="number" step="0.0001" min={0} max={1} value={form.learningRate} onChange={(e) => set('learningRate', Number(e.target.value))} />
          </label>
          <label>
            Seed
            <input type="number" min={0} value={form.seed} onChange={(e) => set('seed', Number(e.target.value))} />
          </label>
          <label>
            Limit images
            <input value={form.limit} onChange={(e) => set('limit', e.target.value.replace(/[^0-9]/g, ''))} placeholder="all" />
          </label>
          <label title={AUGMENTATION_PRESETS.map((p) => `${p}: ${describeAugmentation(p)}`).join('\n')}>
            Augmentation
            <select aria-label="augmentation" value={form.augmentation} onChange={(e) => set('augmentation', e.target.value as AugmentationPreset)}>
              {AUGMENTATION_PRESETS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          {hasSpatialGates(form.variant) && (
            <label title="Trains the spatial gate nearest the output (the decoder's) to cover the lesion mask, so its map shows where the lesion is; 0 leaves the gate unsupervised">
              Attention supervision
              <input type="number" step="0.1" min={0} max={10} aria-label="attention supervision weight" value={form.attentionWeight} placeholder={String(D.attentionWeight)} onChange={(e) => set('attentionWeight', e.target.value)} />
            </label>
          )}
        </div>
        <label>
          Fine-tune from
          <select value={form.baseModel} onChange={(e) => set('baseModel', e.target.value)}>
            <option value="">(train from scratch)</option>
            {models
              .filter((m) => m.variant === form.variant)
              .map((m) => (
                // Any input size will do (the trainer rebuilds the base at this run's); the label says which.
                <option key={m.name} value={m.name}>
                  {m.inputSize === form.inputSize ? m.name : `${m.name} (trained at ${m.inputSize}px)`}
                </option>
              ))}
          </select>
        </label>
        <PlanTable state={planState} />
        <button type="button" className="primary" disabled={!canStart} onClick={start} data-testid="training-start">
          Start training
        </button>
        {error && (
          <p className="training-error" role="alert">
            {error}
          </p>
        )}
        <AdaptSection api={api} models={models} runs={runs} onStarted={setSelected} reviewStore={reviewStore} />
        <h2>Models</h2>
        <ul className="model-list" aria-label="models" data-testid="training-models">
          {models.map((m) => (
            <li key={m.name}>
              <span className="strong">{m.name}</span> <span className="muted">{m.variant} · {m.inputSize}²</span>
            </li>
          ))}
          {models.length === 0 && <li className="muted">No models yet.</li>}
        </ul>
      </aside>
      <section className="training-main">
        {runs.size > 0 && (
          <div className="run-tabs" role="tablist">
            {[...runs.values()].map((r) => (
              <button key={r.runId} type="button" role="tab" aria-selected={r.runId === selected} className={r.runId === selected ? 'tab active' : 'tab'} onClick={() => setSelected(r.runId)}>
                {r.name} <span className={`state state-${r.state}`}>{r.state}</span>
              </button>
            ))}
          </div>
        )}
        {!run && <p className="muted empty-runs">No training run in this session. Fill in the form and start one.</p>}
        {run && (
          <>
            <div className="run-status" aria-live="polite" data-testid="run-status" data-state={run.state}>
              <span className={`state state-${run.state}`}>{run.state}</span>
              <span>
                epoch {run.epoch}/{run.epochs} · step {run.step}/{run.steps}
              </span>
              <span>loss {fixed(run.loss, 4)}</span>
              <span>val Dice {fixed(run.valDice ?? run.history[run.history.length - 1]?.valDice)}</span>
              <span>sens@1FP {fixed(run.valSensitivity1FP ?? run.history[run.history.length - 1]?.valSensitivity1FP)}</span>
              <span>{fixed(run.imagesPerSec, 1)} img/s</span>
              {active && <span>ETA {eta(run.etaSec)}</span>}
              {active && (
                <span className="run-buttons">
                  {run.state === 'paused' ? (
                    <button type="button" onClick={() => control('resume')}>
                      Resume
                    </button>
                  ) : (
                    <button type="button" onClick={() => control('pause')}>
                      Pause
                    </button>
                  )}
                  <button type="button" className="danger" onClick={() => control('cancel')}>
                    Cancel
                  </button>
                </span>
              )}
            </div>
            {run.message && <p className="muted run-message">{run.message}</p>}
            <div className="charts" data-testid="training-charts">
              <LineChart series={lossSeries} xLabel="epoch" yLabel="loss" ariaLabel="training loss" />
              <LineChart series={valSeries} xLabel="epoch" yLabel="validation" yMax={1} ariaLabel="validation metrics" />
            </div>
          </>
        )}
      </section>
    </div>
  );
}
