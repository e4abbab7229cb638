/**
 * The detector's controls in the viewer: model, run (now, or on every image opened), which map to lay
 * over the image (lesion heatmap, any attention module's map, Grad-CAM), boxes and their score
 * threshold, opacity, colour map and the legend. The maps themselves are drawn by the viewport engine.
 */
import { FLIP_SETS, FLIP_VIEWS, type DetectionResult, type FlipSet, type GradCamResult, type ModelInfo } from '../../../preload/contract.ts';
import { ColormapSelect } from '../shared/controls.tsx';
import { type MapLayer, attentionLabel } from '../shared/maps.ts';
import { type ColormapName, colormapGradient } from './colormaps.ts';
import { isUnfamiliar } from '../../../preload/fit.ts';

export interface OverlaySettings {
  /** `none`, `heatmap`, `gradcam`, or `attention:<layer name>` (shared/maps.ts). */
  layer: MapLayer;
  opacity: number;
  colormap: ColormapName;
  showBoxes: boolean;
  threshold: number;
}

interface Props {
  models: ModelInfo[] | null;
  model: string;
  onModel(name: string): void;
  onRefreshModels(): void;
  runOnOpen: boolean;
  onRunOnOpen(v: boolean): void;
  /** Mirror averaging: the model card's, or the user's choice. */
  flips: FlipSet | 'card';
  onFlips(f: FlipSet | 'card'): void;
  canRun: boolean;
  running: boolean;
  gradcamRunning: boolean;
  error: string | null;
  result: DetectionResult | null;
  /** Why the open image is not the kind the model is for (its card's intendedUse), from the result or checked beforehand. */
  mismatch?: string;
  /** Why the model shown was offered, when the viewer chose it (or that it is still checking). */
  offerNote?: string;
  gradcam: GradCamResult | null;
  settings: OverlaySettings;
  onSettings(s: OverlaySettings): void;
  onRun(): void;
  onGradcam(): void;
  legend: { lo: number; hi: number; label: string } | null;
}

const views = (f: FlipSet) => `${FLIP_VIEWS[f]} view${FLIP_VIEWS[f] > 1 ? 's' : ''}`;
const FLIP_NOTES: Record<FlipSet, string> = { none: 'fastest', h: 'left–right', hv: 'all mirrors' };

/** How long a detection took, and over how many mirrored views (shown by the viewer and Compare alike). */
export function ResultTiming({ result }: { result: DetectionResult }) {
  return (
    <span className="chip" title={result.passes > 1 ? 'the input and its mirror images, averaged' : undefined}>
      {result.ms.toFixed(0)} ms{result.passes > 1 ? ` · ${result.passes} views` : ''}
    </span>
  );
}

export function DetectorPanel(p: Props) {
  const { settings: s, result } = p;
  const set = (patch: Partial<OverlaySettings>) => p.onSettings({ ...s, ...patch });
  const shown = result ? result.findings.filter((f) => f.score >= s.threshold) : [];
  const modelInfo = p.models?.find((m) => m.name === p.model);
  const cardFlips = modelInfo?.card.flips ?? 'none';

  return (
    <div className="detector-panel" data-testid="detector-panel">
      <div className="panel-head">
        <h3 className="panel-title">Detector</h3>
        <button type="button" className="link" onClick={p.onRefreshModels} title="Look for new models in the models folder">
          Refresh models
        </button>
      </div>
      {p.models === null ? (
        <div className="muted">Loading models…</div>
      ) : p.models.length === 0 ? (
        <div className="hint">No models found. Train one with <code>studio train</code>, or place one in <code>models/</code>.</div>
      ) : (
        <>
          <label className="field">
            <span>Model</span>
            <select value={p.model} onChange={(e) => p.onModel(e.target.value)} data-testid="model-select">
              {p.models.map((m) => (
                <option key={m.name} value={m.name}>
                  {m.name} ({m.variant}, {m.inputSize}²)
                </option>
              ))}
            </select>
          </label>
          <div className="row">
            <button type="button" className="primary" disabled={!p.canRun || p.running} onClick={p.onRun} data-testid="run-detector">
              {p.running ? 'Running…' : 'Run detector'}
            </button>
            <label className="check">
              <input type="checkbox" checked={p.runOnOpen} onChange={(e) => p.onRunOnOpen(e.target.checked)} data-testid="run-on-open" /> on open
            </label>
          </div>
          <label className="field" title="Average the prediction over the image and its mirror images: steadier maps, at 2 or 4 times the time. The card's choice was made on the validation split, with its thresholds.">
            <span>Mirror averaging</span>
            <select value={p.flips} onChange={(e) => p.onFlips(e.target.value as FlipSet | 'card')} data-testid="flips-select">
              <option value="card">model card: {views(cardFlips)}</option>
              {FLIP_SETS.map((f) => (
                <option key={f} value={f}>
                  {views(f)} ({FLIP_NOTES[f]})
                </option>
              ))}
            </select>
          </label>
          {p.offerNote && (
            <div className="muted small" data-testid="model-offer">
              {p.offerNote}
            </div>
          )}
          {modelInfo?.card.data?.path && <div className="muted small">Trained on {modelInfo.card.data.path}</div>}
        </>
      )}
      {p.mismatch && (
        <div className="warning" role="alert" data-testid="detector-mismatch">
          ⚠ {p.mismatch}
        </div>
      )}
      {p.error && (
        <div className="error-box" role="alert">
          {p.error}
        </div>
      )}

      {result && (
        <div className="result-meta" data-testid="detector-result">
          <span className="chip">{result.backend}</span>
          <ResultTiming result={result} />
          <span className="chip">{result.variant}</span>
          <span className="muted">
            {shown.length}/{result.findings.length} findings
          </span>
          <span
            className={result.lesionScore >= result.threshold ? 'chip lesion-present' : 'chip'}
            data-testid="lesion-score"
            title={`The image-level "lesion present" score: the lesion map's peak. Findings start at the model's operating point, ${result.threshold.toFixed(2)}.`}
          >
            {result.lesionScore >= result.threshold ? 'lesion present' : 'no lesion'} · {result.lesionScore.toFixed(2)} / {result.threshold.toFixed(2)}
          </span>
          {result.appearance && (
            <span
              className={isUnfamiliar(result.appearance) ? 'chip unfamiliar' : 'chip'}
              data-testid="appearance-score"
              title={`How unlike its training images this image looks to the model: its deep features' distance from theirs (about 1 for an image like them). Its own held-out images stay under ${result.appearance.threshold.toFixed(2)}.`}
            >
              {/* Under the threshold says only that this check did not object, not that the image is the model's kind. */}
              {isUnfamiliar(result.appearance) ? 'unfamiliar image · ' : 'appearance '}
              {result.appearance.score.toFixed(2)} / {result.appearance.threshold.toFixed(2)}
            </span>
          )}
        </div>
      )}

      <h4 className="section-title">Overlay</h4>
      <label className="field">
        <span>Map</span>
        <select value={s.layer} onChange={(e) => (e.target.value === 'gradcam' && !p.gradcam ? (set({ layer: 'gradcam' }), p.onGradcam()) : set({ layer: e.target.value as MapLayer }))} data-testid="overlay-layer" disabled={!result && !p.gradcam}>
          <option value="none">None</option>
          <option value="heatmap" disabled={!result}>
            Lesion probability
          </option>
          {result?.attention.map((a) => (
            <option key={a.name} value={`attention:${a.name}`}>
              {attentionLabel(a)}
            </option>
          ))}
          <option value="gradcam" disabled={!p.canRun}>
            Grad-CAM{p.gradcam ? ` · ${p.gradcam.layer}` : ''}
          </option>
        </select>
      </label>
      {s.layer === 'gradcam' && (
        <button type="button" disabled={!p.canRun || p.gradcamRunning} onClick={p.onGradcam}>
          {p.gradcamRunning ? 'Computing Grad-CAM…' : p.gradcam ? 'Recompute Grad-CAM' : 'Compute Grad-CAM'}
        </button>
      )}
      <label className="field">
        <span>Opacity {Math.round(s.opacity * 100)}%</span>
        <input type="range" min={0} max={1} step={0.05} value={s.opacity} onChange={(e) => set({ opacity: Number(e.target.value) })} data-testid="overlay-opacity" />
      </label>
      <label className="field">
        <span>Colour map</span>
        <ColormapSelect value={s.colormap} onChange={(colormap) => set({ colormap })} />
      </label>
      {p.legend && (
        <div className="legend" data-testid="legend">
          <div className="legend-label">{p.legend.label}</div>
          <div className="legend-bar" style={{ background: colormapGradient(s.colormap) }} />
          <div className="legend-scale">
            <span>{p.legend.lo.toPrecision(3)}</span>
            <span>{p.legend.hi.toPrecision(3)}</span>
          </div>
        </div>
      )}

      <h4 className="section-title">Boxes</h4>
      <label className="check">
        <input type="checkbox" checked={s.showBoxes} onChange={(e) => set({ showBoxes: e.target.checked })} data-testid="show-boxes" /> Show boxes with scores
      </label>
      <label className="field">
        <span>Score threshold {s.threshold.toFixed(2)}</span>
        <input type="range" min={0} max={1} step={0.01} value={s.threshold} onChange={(e) => set({ threshold: Number(e.target.value) })} data-testid="score-threshold" />
      </label>
      {shown.length > 0 && (
        <ol className="findings">
          {shown
            .slice()
            .sort((a, b) => b.score - a.score)
            .map((f, i) => (
              <li key={i}>
                <span className="score">{f.score.toFixed(2)}</span> [{f.box.map((v) => Math.round(v)).join(', ')}] · {Math.round(f.area)} px²
              </li>
            ))}
        </ol>
      )}
    </div>
  );
}
