/**
 * Compare: pick two or more models, evaluate them on the same data folder and split (in a service
 * worker), then read the metric table and the FROC curves side by side. Each model's own split.json
 * decides its test images when the data is the one it was trained on, so no model is scored on its
 * training images.
 */
import { commaList } from '../../../preload/lists.ts';
import { useEffect, useMemo, useState } from 'react';
import type { EvaluationProgress, EvaluationReport, FrocPoint, ModelInfo, Request, StudioApi } from '../../../preload/contract.ts';
import { LineChart, PALETTE } from '../training/LineChart.tsx';
import '../training/training.css';
import { StudioClientError } from '../api.ts';
import { type SideBySideFocus, SideBySide } from './SideBySide.tsx';
import { Differences } from './Differences.tsx';
import { summariseCard } from './cards.ts';
import { bestValue, comparability, isHeldOut } from '../../../preload/comparability.ts';
import { clock, fixed as f3, minutes } from '../format.ts';
import { useModels } from '../hooks/useModels.ts';
import { errorText } from '../shared/errors.ts';

const RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8];
const DASHES = [undefined, '7 4', '2 3', '10 3 2 3'];
const POINTING_TITLE = 'share of lesions whose attention maximum lies inside them (one maximum per image, so an image with two lesions can score only one)';
const POINTING_IMAGES_TITLE = 'pointing game per image (Zhang et al. 2016): share of images with a lesion whose attention maximum lies inside one';

type CompareRequest = Request<'evaluation.compare'>;
type Scope = NonNullable<CompareRequest['scope']>;

/**
 * The FROC curve over the plotted 0.125–8 FP/image: the full curve where the service sent one, starting
 * and ending at the sensitivities the table gives at 0.125 and 8 (sensitivity at a rate is the best
 * reached at or below it, so the curve runs flat to 8 after its last operating point), else the seven
 * FROC points.
 */
function frocPoints(r: EvaluationReport): FrocPoint[] {
  const [first, last] = [RATES[0], RATES[RATES.length - 1]];
  const at = (rate: number) => r.froc.find((p) => p.fpPerImage === rate);
  const inside = (r.frocCurve ?? []).filter((p) => p.fpPerImage > first && p.fpPerImage < last);
  const [start, end] = [at(first), at(last)];
  if (!r.frocCurve?.length || !start || !end) return r.froc;
  return [start, ...inside, end];
}

function defaultData(models: ModelInfo[]): string {
  for (const m of models) {
    const path = m.card.data?.path;
    if (path) return path;
  }
  return '';
}

const NEGATIVES_TITLE = "On the lesion-free images scored, at each model's own finding threshold (the findings the viewer draws): findings per image, and the share of them with any";
const AUROC_TITLE = "Image level: how well the lesion map's peak ranks lesion images above lesion-free ones (AUROC), and 'any finding' as a call, at the model's own threshold (sensitivity on lesion images, specificity on lesion-free ones)";
const UNFAMILIAR_TITLE =
  "The share of these images the model's own features find unlike its training images (its appearance score above its card's threshold): the viewer warns on each. Near 0 on its own held-out split; higher on another hospital's or device's images.";

const RENDERINGS_TITLE =
  'The same images as other devices would render them, scored at the same thresholds: for colour frames warmer, cooler, greener, washed out, vivid, darker and brighter tone, soft focus; for grey ultrasound lower and higher gain, lower contrast, compressed and expanded range, coarser speckle, soft focus, half resolution. What to expect at a hospital whose devices the model never saw.';

/** The mean, lowest or highest of one figure over a report's renderings (NaN without them). */
function renderedStat(r: EvaluationReport, figure: 'sensitivity1FP' | 'dice' | 'fpPerNegativeImage' | 'unfamiliarShare', how: 'mean' | 'min' | 'max'): number {
  const values = Object.values(r.renderings ?? {}).flatMap((x) => (typeof x[figure] === 'number' ? [x[figure] as number] : []));
  if (!values.length) return NaN;
  return how === 'mean' ? values.reduce((a, b) => a + b, 0) / values.length : how === 'min' ? Math.min(...values) : Math.max(...values);
}

export function ComparePanel({ api }: { api: StudioApi }) {
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [data, setData] = useState('');
  // Until the user types a folder, it follows the dataset the picked models were trained on.
  const [dataTouched, setDataTouched] = useState(false);
  const [split, setSplit] = useState<'test' | 'val' | 'train'>('test');
  /** Folders of lesion-free images, comma-separated: scored beside the data, their false positives counted apart. */
  const [negatives, setNegatives] = useState('');
  const [scope, setScope] = useState<Scope>('own');
  const [limit, setLimit] = useState('');
  const [renderings, setRenderings] = useState(false);
  const [reports, setReports] = useState<EvaluationReport[]>([]);
  // The request behind the shown reports: the form may have been changed since.
  const [scored, setScored] = useState<CompareRequest | null>(null);
  const [running, setRunning] = useState(false);
  const [progress, setProgress] = useState<EvaluationProgress | null>(null);
  const [cancelled, setCancelled] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The folder the shown reports were scored on: the field may have been edited since.
  const [scoredData, setScoredData] = useState('');
  const [opening, setOpening] = useState<string | null>(null);
  const [openError, setOpenError] = useState<string | null>(null);
  const [focus, setFocus] = useState<SideBySideFocus | null>(null);

  useEffect(() => api.on('evaluation.progress', setProgress), [api]);

  const { models } = useModels(api, (e) => setError(e.message));
  // Until the user types a folder, it follows the models: the picked ones' dataset once any are picked,
  // kept when all are unpicked again. That history is why these are effects: derived while rendering, the
  // folder would still need state of its own to remember it.
  // eslint-disable-next-line react-hooks/set-state-in-effect
  useEffect(() => setData((d) => d || defaultData(models)), [models]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (!dataTouched && picked.size) setData(defaultData(models.filter((m) => picked.has(m.name))) || defaultData(models));
  }, [picked, models, dataTouched]);

  const toggle = (name: string) =>
    setPicked((s) => {
      const n = new Set(s);
      if (n.has(name)) n.delete(name);
      else n.add(name);
      return n;
    });

  const negativeFolders = commaList(negatives);
  const compare = async (request: CompareRequest = { models: [...picked], data: data.trim(), ...(negativeFolders.length ? { negatives: negativeFolders } : {}), split, scope, ...(limit ? { limit: Number(limit) } : {}), renderings }) => {
    setError(null);
    setCancelled(false);
    setProgress(null);
    setRunning(true);
    try {
      const { reports } = await api['evaluation.compare'](request);
      setReports(reports);
      setScored(request);
      setScoredData(request.data);
      setOpenError(null);
    } catch (e) {
      // A cancel is the user's own choice, not a failure: say so quietly and keep the last results.
      if (e instanceof StudioClientError && e.code === 'CANCELLED') setCancelled(true);
      else setError(errorText(e));
    } finally {
      setRunning(false);
    }
  };
  /** One image of the comparison, side by side under every compared model (up to four), its truth outlined. */
  const openSideBySide = async (id: string) => {
    setOpenError(null);
    setOpening(id);
    try {
      const sample = await api['evaluation.sample']({ data: scoredData, id });
      // Reuse the image when it is open already: each click would otherwise add another copy to the list.
      const open = (await api['imaging.list']({})).find((i) => i.path === sample.path);
      let image = open;
      if (!image) {
        const r = await api['imaging.open']({ paths: [sample.path] });
        if (!r.images[0]) throw new Error(r.errors.map((e) => `${e.file}: ${e.message}`).join('; ') || `${sample.path} could not be opened`);
        image = r.images[0];
      }
      const scores = Object.fromEntries(reports.flatMap((r) => r.perImage?.filter((p) => p.id === id).map((p) => [r.model, p]) ?? []));
      const operating = Object.fromEntries(reports.flatMap((r) => (r.operatingScore1FP === undefined ? [] : [[r.model, r.operatingScore1FP]])));
      setFocus({ imageId: image.id, label: id, models: reports.map((r) => r.model), truth: sample.truth, scores, operating, at: Date.now() });
    } catch (e) {
      // Next to the row clicked, not at the top of the form.
      setOpenError(`${id}: ${errorText(e)}`);
    } finally {
      setOpening(null);
    }
  };
  const cancel = () => void api['evaluation.cancel']({}).catch((e: unknown) => setError(errorText(e)));
  /** The comparison as `studio compare --out` writes it, per-image scores included, for a notebook or a record. */
  const saveReport = () => {
    if (!scored) return;
    const body = { data: scored.data, split: scored.split ?? 'test', scope: scored.scope ?? 'own', reports };
    const url = URL.createObjectURL(new Blob([`${JSON.stringify(body, null, 2)}\n`], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `compare-${reports.map((r) => r.model).join('-').slice(0, 120)}-${body.split}.json`;
    a.click();
    // After the click has handed the blob to the download.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  };

  const series = useMemo(
    () =>
      reports.map((r, i) => ({
        name: r.model,
        colour: PALETTE[i % PALETTE.length],
        // Models often tie along the whole FROC curve: each later one dashed, so none hides another.
        dash: DASHES[i % DASHES.length],
        // The full curve within the plotted range when the service sent one, else the seven FROC points
        // (also for a model whose curve has no point in range: it is drawn at its sensitivities, not left out).
        points: frocPoints(r).map((p) => ({ x: p.fpPerImage, y: p.sensitivity })),
      })),
    [reports],
  );

  const columns: { label: string; value: (r: EvaluationReport) => number; higher: boolean; digits?: number; title?: string }[] = [
    { label: 'Dice', value: (r) => r.dice, higher: true },
    { label: 'IoU', value: (r) => r.iou, higher: true },
    { label: 'AP50', value: (r) => r.ap50, higher: true },
    ...RATES.map((rate) => ({ label: `sens@${rate}`, value: (r: EvaluationReport) => r.froc.find((p) => p.fpPerImage === rate)?.sensitivity ?? NaN, higher: true })),
    { label: 'pointing', value: (r) => r.pointingGame, higher: true, title: POINTING_TITLE },
    { label: 'pointing/img', value: (r) => r.pointingGameImages ?? NaN, higher: true, title: POINTING_IMAGES_TITLE },
    { label: 'latency ms', value: (r) => r.latencyMs, higher: false, digits: 1 },
    // What a clinician meets on frames without a lesion: only when some were scored.
    ...(reports.some((r) => r.negatives)
      ? [
          { label: 'FP/lesion-free', value: (r: EvaluationReport) => r.fpPerNegativeImage ?? NaN, higher: false, digits: 2, title: NEGATIVES_TITLE },
          { label: 'lesion-free with a finding', value: (r: EvaluationReport) => r.negativesWithFindings ?? NaN, higher: false, title: NEGATIVES_TITLE },
          { label: 'image AUROC', value: (r: EvaluationReport) => r.imageAUROC ?? NaN, higher: true, title: AUROC_TITLE },
          { label: 'image sens', value: (r: EvaluationReport) => r.imageSensitivity ?? NaN, higher: true, title: AUROC_TITLE },
          { label: 'image spec', value: (r: EvaluationReport) => r.imageSpecificity ?? NaN, higher: true, title: AUROC_TITLE },
        ]
      : []),
    ...(reports.some((r) => r.appearance) ? [{ label: 'unfamiliar', value: (r: EvaluationReport) => r.appearance?.unfamiliarShare ?? NaN, higher: false, title: UNFAMILIAR_TITLE }] : []),
    ...(reports.some((r) => r.renderings)
      ? [
          { label: 'sens@1 other devices (mean)', value: (r: EvaluationReport) => renderedStat(r, 'sensitivity1FP', 'mean'), higher: true, title: RENDERINGS_TITLE },
          { label: 'sens@1 other devices (worst)', value: (r: EvaluationReport) => renderedStat(r, 'sensitivity1FP', 'min'), higher: true, title: RENDERINGS_TITLE },
          { label: 'Dice other devices (worst)', value: (r: EvaluationReport) => renderedStat(r, 'dice', 'min'), higher: true, title: RENDERINGS_TITLE },
          ...(reports.some((r) => r.negatives) ? [{ label: 'FP/lesion-free other devices (worst)', value: (r: EvaluationReport) => renderedStat(r, 'fpPerNegativeImage', 'max'), higher: false, digits: 2, title: RENDERINGS_TITLE }] : []),
          ...(reports.some((r) => r.appearance)
            ? [{ label: 'unfamiliar other devices (worst)', value: (r: EvaluationReport) => renderedStat(r, 'unfamiliarShare', 'max'), higher: false, title: `${RENDERINGS_TITLE} ${UNFAMILIAR_TITLE}` }]
            : []),
        ]
      : []),
  ];
  // Ranked only on the same images, each held out from its own model's training (preload/comparability.ts).
  const { sameImages: comparable, notHeldOut, rankable } = comparability(reports);
  const best = (c: (typeof columns)[number]) => bestValue(reports.map(c.value), c.higher, rankable);

  return (
    <div className="compare">
      <aside className="compare-form">
        <h2>Models</h2>
        <div className="model-picks" aria-label="models to compare">
          {models.map((m) => (
            <label key={m.name}>
              <input type="checkbox" data-testid={`compare-pick-${m.name}`} checked={picked.has(m.name)} onChange={() => toggle(m.name)} /> {m.name} <span className="muted">{m.variant} · {m.inputSize}²</span>
            </label>
          ))}
          {models.length === 0 && <span className="muted">No models to compare.</span>}
        </div>
        <label>
          Data folder (images/ + masks/)
          <input
            value={data}
            onChange={(e) => {
              setDataTouched(true);
              setData(e.target.value);
            }}
            aria-label="data folder"
          />
        </label>
        <label title="A folder of images with no lesion (its images/ or the folder itself), or several, comma-separated: split by the same seeded rule, so each model's held-out part of them is scored, and what it finds on them is counted apart.">
          Lesion-free images (optional)
          <input value={negatives} onChange={(e) => setNegatives(e.target.value)} aria-label="lesion-free images folder" data-testid="compare-negatives" placeholder="e.g. ../shared/data/hyperkvasir-normal" />
        </label>
        <label>
          Split
          <select value={split} onChange={(e) => setSplit(e.target.value as 'test' | 'val' | 'train')}>
            <option value="test">test</option>
            <option value="val">validation</option>
            <option value="train">train</option>
          </select>
        </label>
        <label title="Each model's own split keeps every model off its training images; models trained on other splits then meet other images. 'In every model's split' scores all of them on the images they share.">
          Images
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)} aria-label="images" data-testid="compare-scope">
            <option value="own">each model&apos;s own {split} split</option>
            <option value="common">only those in every model&apos;s {split} split</option>
          </select>
        </label>
        <label>
          Limit images
          <input value={limit} onChange={(e) => setLimit(e.target.value.replace(/[^0-9]/g, ''))} placeholder="all" />
        </label>
        <label className="check" title={RENDERINGS_TITLE}>
          <input type="checkbox" checked={renderings} onChange={(e) => setRenderings(e.target.checked)} data-testid="compare-renderings" /> also as other devices render them (9× the time)
        </label>
        <button type="button" className="primary" data-testid="compare-run" disabled={picked.size < 2 || !data.trim() || running} onClick={() => void compare()}>
          {running ? 'Evaluating…' : `Compare ${picked.size} models`}
        </button>
        {picked.size < 2 && <span className="muted small">Pick at least two models.</span>}
        {error && (
          <p className="training-error" role="alert">
            {error}
          </p>
        )}
      </aside>
      <section className="compare-main">
        {picked.size > 0 && <ModelCards models={models.filter((m) => picked.has(m.name))} />}
        {reports.length === 0 && !running && <p className="muted empty-runs">Pick models and a data folder, then compare them on the same split.</p>}
        {running && <CompareStatus progress={progress} split={split} onCancel={cancel} />}
        {cancelled && !running && (
          <p className="muted" data-testid="compare-cancelled">
            Comparison cancelled{reports.length ? '; the results below are from the last one that finished' : ''}.
          </p>
        )}
        {reports.length > 0 && (
          <>
            {!comparable && (
              <p className="warning" role="alert" data-testid="compare-not-comparable">
                Not comparable: these models were scored on different {scored?.split ?? 'test'} images (each model&apos;s own split
                decides them: {reports.map((r) => `${r.model} ${r.images}`).join(', ')}), so no value is marked best.
                Models trained on the same data with the same seed share their split.{' '}
                <button
                  type="button"
                  disabled={running || !scored}
                  onClick={() => {
                    // The comparison shown, on the images its models share: not whatever the form holds now.
                    setScope('common');
                    if (scored) void compare({ ...scored, scope: 'common' });
                  }}
                  data-testid="compare-rerun-common"
                >
                  Score all on the images they share
                </button>
              </p>
            )}
            {notHeldOut.length > 0 && (
              <p className="warning" role="alert" data-testid="compare-not-held-out">
                Not held out:{' '}
                {notHeldOut
                  .map((name) => {
                    const trainedOn = models.find((m) => m.name === name)?.card.data?.path;
                    return `${name} has no split stored for this data folder${trainedOn ? ` (it was trained on ${trainedOn})` : ''}`;
                  })
                  .join('; ')}
                . {notHeldOut.length > 1 ? 'Their' : 'Its'} {scored?.split ?? 'test'} images were drawn by a seed, so the figures are not performance on
                images held out from {notHeldOut.length > 1 ? 'their' : 'its'} own training: {notHeldOut.length > 1 ? 'they' : 'it'} may have trained on some of
                them, or never seen images like them. No value is marked best.
              </p>
            )}
            {comparable && scored?.scope === 'common' && (
              <p className="muted small" data-testid="compare-common">
                Every model was scored on the same {reports[0].images} {scored.split ?? 'test'} images: {scored.limit ? 'the first of those' : 'those'} in every picked
                model&apos;s {scored.split ?? 'test'} split
                {/* Only a split stored with the model says what it trained on; one recomputed from its seed is a guess. */}
                {(scored.split ?? 'test') === 'test' && reports.every(isHeldOut) ? ', so none of them trained on any' : ''}.
              </p>
            )}
            <div className="table-scroll">
            <table className="metric-table" aria-label="metrics" data-testid="compare-table">
              <thead>
                <tr>
                  <th>model</th>
                  <th>images</th>
                  <th>lesions</th>
                  {columns.map((c) => (
                    <th key={c.label} title={c.title}>
                      {c.label}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {reports.map((r) => (
                  <tr key={r.model}>
                    <td>{r.model}</td>
                    <td>{r.images}</td>
                    <td>{r.lesions}</td>
                    {columns.map((c) => {
                      const v = c.value(r);
                      return (
                        <td key={c.label} className={v === best(c) ? 'best' : undefined}>
                          {Number.isFinite(v) ? v.toFixed(c.digits ?? 3) : '–'}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
            <button type="button" onClick={saveReport} disabled={!scored} data-testid="compare-save" title="the reports as JSON, per-image scores included (the same file studio compare --out writes)">
              Save report…
            </button>
            <LineChart series={series} width={560} height={300} logX xTicks={RATES} xLabel="false positives per image" yLabel="lesion sensitivity" yMax={1} ariaLabel="FROC curves" />
            <p className="muted small">
              Pointing game: share of lesions whose attention maximum lies inside them (the CBAM spatial gate training supervises, nearest the output; the baseline has no attention module and is scored on its lesion heatmap).
              One maximum per image can point at only one lesion; pointing/img scores each image with a lesion once, as Zhang et al. (2016) do.
            </p>
            {comparable && <Differences reports={reports} opening={opening} error={openError} onOpen={(id) => void openSideBySide(id)} />}
          </>
        )}
        <SideBySide api={api} focus={focus} />
      </section>
    </div>
  );
}

/** Which model is being scored, how far along it is, the time left for all of them, and a way out. */
function CompareStatus({ progress, split, onCancel }: { progress: EvaluationProgress | null; split: string; onCancel: () => void }) {
  const p = progress?.state === 'running' ? progress : null;
  const share = p && p.models.length ? (p.modelIndex + (p.total ? p.done / p.total : 0)) / p.models.length : 0;
  return (
    <div className="compare-status" aria-live="polite" data-testid="compare-status">
      <progress max={1} value={share} aria-label="comparison progress" />
      <span data-testid="compare-progress">
        {p
          ? `Scoring ${p.models[p.modelIndex]} (${p.modelIndex + 1} of ${p.models.length}) on the ${split} split: ${p.done}/${p.total || '…'} images`
          : `Starting the evaluation worker…`}
      </span>
      {p && p.imagesPerSec > 0 && (
        <span>
          {f3(p.imagesPerSec, 1)} img/s · ETA {clock(p.etaSec)}
        </span>
      )}
      <button type="button" className="danger" onClick={onCancel} data-testid="compare-cancel">
        Cancel
      </button>
    </div>
  );
}

/** What each picked model's card recorded on its own test split, and how it was trained: no evaluation needed. */
function ModelCards({ models }: { models: ModelInfo[] }) {
  return (
    <details className="model-cards" open data-testid="model-cards">
      <summary>Model cards: recorded on each model&apos;s own held-out test split</summary>
      <div className="table-scroll">
      <table className="metric-table" aria-label="model cards">
        <thead>
          <tr>
            <th>model</th>
            <th>test images</th>
            <th>Dice</th>
            <th>sens@1</th>
            <th>AP50</th>
            <th title={POINTING_TITLE}>pointing</th>
            <th title={POINTING_IMAGES_TITLE}>pointing/img</th>
            <th className="text">attention</th>
            <th>epochs</th>
            <th>training</th>
            <th className="text">data</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => {
            const c = summariseCard(m.variant, m.card);
            return (
              <tr key={m.name} data-testid={`card-${m.name}`}>
                <td>
                  {m.name}{' '}
                  <span className="muted" title={c.views > 1 ? 'each prediction averages the image and its mirror images' : undefined}>
                    {m.variant} · {m.inputSize}²{c.views > 1 ? ` · ${c.views} views` : ''}
                  </span>
                </td>
                <td>{c.test?.images ?? '–'}</td>
                <td>{f3(c.test?.dice)}</td>
                <td>{f3(c.test?.sensitivity1FP)}</td>
                <td>{f3(c.test?.ap50)}</td>
                <td title={c.test?.pointingSource}>{f3(c.test?.pointingGame)}</td>
                <td title={c.test?.pointingSource}>{f3(c.test?.pointingGameImages)}</td>
                <td className="text">{c.attention}</td>
                <td title={c.complete ? undefined : 'a base model it was fine-tuned from is not counted: its card did not record its training'}>{c.epochs === undefined ? '–' : `${c.complete ? '' : '≥ '}${c.epochs}`}</td>
                <td>
                  {c.complete ? '' : '≥ '}
                  {minutes(c.seconds)}
                  {c.backend ? ` · ${c.backend}` : ''}
                </td>
                <td className="text">{c.data ?? '–'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
    </details>
  );
}
