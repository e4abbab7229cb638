/**
 * Side-by-side overlays: one image (any image open in the studio, or files opened here), two to four
 * models run on the same frame, one pane per model. Every pane is a viewer engine of its own, and they
 * move as one: a zoom or pan in any pane is handed to the others as the image point at the view's centre
 * plus the zoom, and a window dragged in one is set on all. Overlay controls (map, opacity, colour map,
 * score threshold) are shared, so the panes differ only by model.
 *
 * Variants have different attention modules, so the map is chosen by role (shared/maps.ts: the supervised
 * gate, a stage's gate, the non-local block) and each pane finds its own, or says that its variant has none.
 */
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { DetectionResult, FramePixels, GradCamResult, ImageScore, ImageSummary, ModelInfo, StudioApi } from '../../../preload/contract.ts';
import { isElectron } from '../api.ts';
import { type ColormapName, colorize, colormapGradient, mapRange } from '../detector/colormaps.ts';
import { ResultTiming } from '../detector/DetectorPanel.tsx';
import { resultKey, useDetection } from '../hooks/useDetection.ts';
import { useModels } from '../hooks/useModels.ts';
import { useRecent } from '../hooks/useRecent.ts';
import { ColormapSelect } from '../shared/controls.tsx';
import { errorText } from '../shared/errors.ts';
import type { Job } from '../shared/jobs.ts';
import { type MapLayer, chooseMap, spatialStages } from '../shared/maps.ts';
import { type OverlayState, type Tool, ViewEngine, type ViewState, type ViewTransform } from '../viewer/engine.ts';
import { fromFileList, uploadPicked } from '../viewer/files.ts';
import { FrameCache } from '../viewer/frameCache.ts';
import { initialMode, presetLabel, presetsFor, voiLabel } from '../viewer/presets.ts';
import { IDENTITY_8BIT, type VoiMode } from '../viewer/windowing.ts';
import './compare.css';
import { maskOutline } from '../viewer/outline.ts';
import { rleDecode } from '../../../preload/mask-rle.ts';
import { MAX_PANES } from './panes.ts';

/** An image to show under given models, with its ground truth: what Compare's list of differences asks for. */
export interface SideBySideFocus {
  imageId: string;
  /** The dataset sample's id, for the label. */
  label: string;
  models: string[];
  truth: { counts: number[]; size: [number, number] };
  /** What the comparison scored on this image, by model: shown in each pane's head. */
  scores: Record<string, ImageScore>;
  /**
   * Each model's 1 FP/image operating point from the comparison (`operatingScore1FP`): its panes can cut
   * boxes there, so they show the findings the row counted. Models whose report predates it are absent.
   */
  operating: Record<string, number | null>;
  /** When it was asked for: the same image asked for twice is run again. */
  at: number;
}

interface Truth {
  label: string;
  scores: Record<string, ImageScore>;
  operating: Record<string, number | null>;
  width: number;
  height: number;
  outline: Float32Array;
}

/** Results carry full-size maps: keep the most recent few per kind. */
const KEEP = 16;

interface Shared {
  layer: MapLayer;
  opacity: number;
  colormap: ColormapName;
  threshold: number;
  /**
   * Where boxes are cut: at `threshold` in every pane, or (for an image opened from a comparison) at each
   * model's own 1 FP/image operating point, where the comparison counted its lesions found and FPs.
   */
  boxesAt: 'threshold' | 'operating';
  showBoxes: boolean;
}

/** How the panes reach each other: one object for the component's life, so panes never re-subscribe. */
interface Sync {
  attach(model: string, engine: ViewEngine | null): void;
  /** The window and (when this image is already shown) the transform a pane starts with. */
  initial(frame: FramePixels): { mode: VoiMode; transform: ViewTransform | null };
  transformed(model: string, t: ViewTransform): void;
  viewed(model: string, s: ViewState): void;
}

interface PaneProps {
  index: number;
  model: string;
  info: ModelInfo | undefined;
  det: Job<DetectionResult> | undefined;
  cam: Job<GradCamResult> | undefined;
  frame: FramePixels | null;
  shared: Shared;
  tool: Tool;
  invert: boolean;
  sync: Sync;
  /** Ground-truth outline segments to draw, or null. */
  outline: Float32Array | null;
  /** This model's scores on this image from the comparison that opened it. */
  score: ImageScore | undefined;
  /** The score this pane's boxes are cut at (Infinity keeps none), and whether it is the model's 1 FP/image point. */
  cut: number;
  atOperating: boolean;
}

const Pane = memo(function Pane({ index, model, info, det, cam, frame, shared, tool, invert, sync, outline, score, cut, atOperating }: PaneProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const baseRef = useRef<HTMLCanvasElement>(null);
  const overRef = useRef<HTMLCanvasElement>(null);
  const engineRef = useRef<ViewEngine | null>(null);
  const lastImage = useRef<string | null>(null);

  useEffect(() => {
    const engine = new ViewEngine(hostRef.current!, baseRef.current!, overRef.current!, {
      onView: (s) => sync.viewed(model, s),
      onCursor: () => undefined,
      onFrameStep: () => undefined,
      onTransform: (t) => sync.transformed(model, t),
    });
    engineRef.current = engine;
    sync.attach(model, engine);
    return () => {
      sync.attach(model, null);
      engine.destroy();
      engineRef.current = null;
    };
  }, [model, sync]);

  useEffect(() => {
    const engine = engineRef.current;
    if (!engine) return;
    const same = !!frame && lastImage.current === frame.id;
    lastImage.current = frame?.id ?? null;
    const init = frame ? sync.initial(frame) : null;
    engine.setFrame(frame, same ? engine.getMode() : (init?.mode ?? { kind: 'window', voi: IDENTITY_8BIT }), same);
    // A pane added while the others are zoomed joins them where they are.
    if (!same && init?.transform) engine.setTransform(init.transform);
  }, [frame, sync]);
  useEffect(() => engineRef.current?.setInvert(invert), [invert]);
  useEffect(() => {
    if (engineRef.current) engineRef.current.tool = tool;
  }, [tool]);

  const result = det?.state === 'done' ? det.value : null;
  const chosen = useMemo(() => chooseMap(shared.layer, det?.state === 'done' ? det.value : undefined, cam, info?.variant), [shared.layer, info?.variant, det, cam]);
  const drawn = chosen && 'map' in chosen ? chosen : null;
  const range = useMemo(() => (drawn ? mapRange(drawn.map, drawn.probability) : null), [drawn]);
  const canvas = useMemo(() => (drawn && range ? colorize(drawn.map, shared.colormap, range) : null), [drawn, range, shared.colormap]);
  const shown = useMemo(() => (result ? result.findings.filter((f) => f.score >= cut) : []), [result, cut]);
  const overlay: OverlayState = useMemo(
    () => ({ map: canvas, opacity: shared.opacity, boxes: shared.showBoxes ? shown.map((f) => ({ box: f.box, score: f.score })) : [], outline }),
    [canvas, shared.opacity, shared.showBoxes, shown, outline],
  );
  useEffect(() => engineRef.current?.setOverlay(overlay), [overlay]);

  const note = chosen && 'note' in chosen ? chosen.note : null;
  const status = !det ? 'idle' : det.state;
  return (
    <div className="sbs-pane" data-testid={`sbs-pane-${index}`} data-model={model} data-status={status}>
      <div className="sbs-pane-head">
        <span className="strong sbs-model" title={model}>
          {model}
        </span>
        <span className="chip">{result?.variant ?? info?.variant ?? '?'}</span>
        {result && (
          <>
            <span className="chip">{result.backend}</span>
            <ResultTiming result={result} />
            <span
              className="muted"
              data-testid={`sbs-findings-${index}`}
              data-cut={cut}
              data-operating={atOperating}
              title={
                atOperating
                  ? Number.isFinite(cut)
                    ? `findings scoring at least ${cut.toFixed(3)}: this model's 1 FP/image operating point on the comparison's split, where its row counted lesions found and false positives`
                    : 'on the comparison\'s split no score kept this model within 1 FP/image, so its operating point keeps no finding'
                  : `findings scoring at least ${cut.toFixed(2)}, the shared threshold`
              }
            >
              {shown.length}/{result.findings.length} findings{atOperating ? (Number.isFinite(cut) ? ` ≥ ${cut.toFixed(2)} (1 FP/image)` : ' (none at 1 FP/image)') : ''}
            </span>
          </>
        )}
        {det?.state === 'running' && <span className="muted">running…</span>}
        {score && (
          <span className="chip" data-testid={`sbs-score-${index}`} title="scored by the comparison: Dice of the thresholded lesion map; lesions found and false positives at its 1 FP/image operating point">
            Dice {score.dice.toFixed(3)} · {score.found}/{score.lesions} found · {score.falsePositives} FP at 1 FP/image
          </span>
        )}
      </div>
      <div className={`viewport sbs-view tool-${tool}`} ref={hostRef} data-testid={`sbs-view-${index}`}>
        <canvas className="layer-image" ref={baseRef} data-testid={`sbs-image-${index}`} />
        <canvas className="layer-overlay" ref={overRef} data-testid={`sbs-overlay-${index}`} />
        {!frame && <div className="viewport-empty">No image chosen</div>}
        {frame && !det && <div className="sbs-note">Not run on this image yet</div>}
        {det?.state === 'error' && (
          <div className="sbs-note error" role="alert">
            {det.error}
          </div>
        )}
      </div>
      <div className="sbs-pane-foot">
        {drawn && range ? (
          <div className="sbs-legend" data-testid={`sbs-legend-${index}`}>
            <span className="sbs-legend-label" title={drawn.label}>
              {drawn.label}
            </span>
            <span>{range.lo.toPrecision(3)}</span>
            <span className="legend-bar" style={{ background: colormapGradient(shared.colormap) }} />
            <span>{range.hi.toPrecision(3)}</span>
          </div>
        ) : note ? (
          // Under the image, not over it: the reason a pane has no map must not hide the image's lower part.
          <span className="muted small sbs-foot-note" data-testid={`sbs-note-${index}`} title={note}>
            {note}
          </span>
        ) : (
          <span className="muted small">{shared.layer === 'none' ? 'No map' : '—'}</span>
        )}
      </div>
    </div>
  );
});

export function SideBySide({ api, focus }: { api: StudioApi; focus?: SideBySideFocus | null }) {
  const [images, setImages] = useState<ImageSummary[]>([]);
  const [imageId, setImageId] = useState('');
  const [frameIndex, setFrameIndex] = useState(0);
  const [loadedFrame, setFrame] = useState<FramePixels | null>(null);
  // Another image's frame stays loaded until this one's comes, but is never shown for it.
  const frame = loadedFrame && loadedFrame.id === imageId ? loadedFrame : null;
  // The models picked here or by Compare's list (null: none yet, so the first two); only those listed.
  const [chosen, setChosen] = useState<string[] | null>(null);
  const { detections, gradcams, detect, gradcam } = useDetection(api, { keep: KEEP, serial: true });
  const dets = detections.jobs;
  const { jobs: cams, has: hasGradcam, forget: forgetGradcam } = gradcams;
  const [shared, setShared] = useState<Shared>({ layer: 'heatmap', opacity: 0.45, colormap: 'jet', threshold: 0.5, boxesAt: 'threshold', showBoxes: true });
  const [tool, setTool] = useState<Tool>('pan');
  const [invert, setInvert] = useState(false);
  const [zoom, setZoom] = useState(1);
  const [voiText, setVoiText] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cache = useMemo(() => new FrameCache(api), [api]);
  const fileInput = useRef<HTMLInputElement>(null);
  const root = useRef<HTMLElement>(null);
  // Ground truth by open image id, for images opened from Compare's list (other images have none).
  const { items: truths, put: putTruth } = useRecent<Truth>(KEEP);
  const [showTruth, setShowTruth] = useState(true);
  /** An image to run the picked models on as soon as its frame is shown. */
  const autoRun = useRef<{ imageId: string; models: string } | null>(null);

  const summary = images.find((i) => i.id === imageId) ?? null;
  const frames = summary?.frames ?? 1;

  // ---------------------------------------------------------------------------------------------
  // Images and models

  const refreshImages = useCallback(
    (select?: string) =>
      api['imaging.list']({}).then(
        (list) => {
          setImages(list);
          setImageId((cur) => select ?? (list.some((i) => i.id === cur) ? cur : (list[0]?.id ?? '')));
        },
        (err) => setError(`images: ${errorText(err)}`),
      ),
    [api],
  );
  useEffect(() => void refreshImages(), [refreshImages]);

  const { models } = useModels(api, (err) => setError(`models: ${errorText(err)}`));
  const picked = useMemo(() => (chosen?.length ? chosen : models.slice(0, 2).map((m) => m.name)).filter((n) => models.some((m) => m.name === n)), [chosen, models]);

  const openFiles = async (files: FileList | null) => {
    const picks = fromFileList(files);
    if (!picks.length) return;
    setBusy(`Opening ${picks.length} file${picks.length > 1 ? 's' : ''}…`);
    try {
      const r = await uploadPicked(api, picks, (done, total) => setBusy(`Opening ${done}/${total} files…`));
      if (r.errors.length) setError(r.errors.map((e) => `${e.file}: ${e.message}`).join('; '));
      await refreshImages(r.images[0]?.id);
    } finally {
      setBusy(null);
    }
  };
  const openDialog = async () => {
    if (!isElectron()) return fileInput.current?.click();
    try {
      const { paths } = await api['dialog.open']({ folders: false });
      if (!paths.length) return;
      setBusy('Opening…');
      const r = await api['imaging.open']({ paths });
      if (r.errors.length) setError(r.errors.map((e) => `${e.file}: ${e.message}`).join('; '));
      await refreshImages(r.images[0]?.id);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  useEffect(() => {
    if (!imageId) return;
    let current = true;
    cache.get(imageId, Math.min(frameIndex, frames - 1)).then(
      (px) => current && setFrame(px),
      (err) => {
        if (!current) return;
        autoRun.current = null;
        setError(`${summary?.name ?? imageId}: ${errorText(err)}`);
      },
    );
    return () => {
      current = false;
    };
    // The summary's name only labels the error.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cache, imageId, frameIndex, frames]);

  useEffect(() => {
    if (!focus) return;
    const mask = rleDecode(focus.truth);
    putTruth(focus.imageId, { label: focus.label, scores: focus.scores, operating: focus.operating, width: mask.width, height: mask.height, outline: maskOutline(mask.data, mask.width, mask.height) });
    // Opened from a row: the boxes the row counted, unless no model's report says where that was. (`focus`
    // is a click in Compare's list handed down: each one resets the view once, an event's work that state
    // derived while rendering could not tell from a re-render.)
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (Object.keys(focus.operating).length) setShared((s) => ({ ...s, boxesAt: 'operating' }));
    setChosen(focus.models.slice(0, MAX_PANES));
    setFrameIndex(0);
    setShowTruth(true);
    autoRun.current = { imageId: focus.imageId, models: focus.models.slice(0, MAX_PANES).join('\n') };
    void refreshImages(focus.imageId);
    root.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }, [focus, refreshImages, putTruth]);

  const toggle = (name: string) => {
    // A choice of the user's own cancels a run still waiting for the focused image to load.
    autoRun.current = null;
    togglePick(name);
  };
  const togglePick = (name: string) => setChosen(picked.includes(name) ? picked.filter((n) => n !== name) : picked.length >= MAX_PANES ? picked : [...picked, name]);

  // ---------------------------------------------------------------------------------------------
  // Running: one request at a time (useDetection's serial queue), each model with its card's averaging.

  const shownFrame = frame ? frame.frame : null;

  const run = () => {
    if (!imageId || shownFrame === null) return;
    setError(null);
    for (const model of picked) {
      const target = { imageId, frame: shownFrame, model };
      // A new detection's Grad-CAM is computed again, after it.
      forgetGradcam(resultKey(target));
      void detect(target);
    }
  };

  useEffect(() => {
    const want = autoRun.current;
    // Once the focused image is shown and the picked models are the focus's (state set by the focus
    // effect reaches run only in a later render).
    if (!want || want.imageId !== imageId || shownFrame === null || want.models !== picked.join('\n')) return;
    autoRun.current = null;
    run();
    // `run` is a new closure each render: the effect keys on what decides it, `picked` by value.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [imageId, shownFrame, picked.join('\n'), focus?.at]);

  // Grad-CAM is a second pass through each model: computed when chosen, once per image, frame and model.
  useEffect(() => {
    if (shared.layer !== 'gradcam' || !imageId || shownFrame === null) return;
    for (const model of picked) {
      const target = { imageId, frame: shownFrame, model };
      if (!hasGradcam(resultKey(target))) void gradcam(target);
    }
    // `picked` by value; `dets`, because a detector re-run clears the image's Grad-CAM, which is then
    // computed again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shared.layer, imageId, shownFrame, picked.join('\n'), dets, hasGradcam, gradcam]);

  // ---------------------------------------------------------------------------------------------
  // Synchronised view

  const engines = useRef(new Map<string, ViewEngine>());
  const view = useRef<{ imageId: string; mode: VoiMode | null; transform: ViewTransform | null }>({ imageId: '', mode: null, transform: null });
  const imagesRef = useRef(images);
  useLayoutEffect(() => {
    imagesRef.current = images;
  });

  const sync: Sync = useMemo(() => {
    const sameMode = (a: VoiMode | null, b: VoiMode) =>
      !!a && a.kind === b.kind && (a.kind === 'lut' || (b.kind === 'window' && a.voi.center === b.voi.center && a.voi.width === b.voi.width));
    return {
      attach(model, engine) {
        if (engine) engines.current.set(model, engine);
        else engines.current.delete(model);
      },
      initial(f) {
        const v = view.current;
        if (v.imageId !== f.id || !v.mode) {
          const s = imagesRef.current.find((i) => i.id === f.id);
          const mode = s ? initialMode(s, !!f.voiLut) : { kind: 'window' as const, voi: IDENTITY_8BIT };
          view.current = { imageId: f.id, mode, transform: null };
          setVoiText(voiLabel(mode));
        }
        return { mode: view.current.mode!, transform: view.current.transform };
      },
      transformed(model, t) {
        view.current.transform = t;
        for (const [name, e] of engines.current) if (name !== model) e.setTransform(t);
        setZoom(t.zoom);
      },
      viewed(model, s) {
        // A window dragged in one pane is set on the others; their reports then match and stop here.
        if (sameMode(view.current.mode, s.mode)) return;
        view.current.mode = s.mode;
        for (const [name, e] of engines.current) if (name !== model) e.setMode(s.mode);
        setVoiText(voiLabel(s.mode));
      },
    };
  }, []);

  const all = (fn: (e: ViewEngine) => void) => {
    for (const e of engines.current.values()) fn(e);
  };
  const setModeAll = (mode: VoiMode) => {
    view.current.mode = mode;
    all((e) => e.setMode(mode));
    setVoiText(voiLabel(mode));
  };
  const presets = useMemo(() => (summary ? presetsFor(summary, !!frame?.voiLut && frame.id === summary.id) : []), [summary, frame]);

  // Stage choices: every stage some shown model has a spatial map for (1–4 before any run).
  const stages = useMemo(() => {
    const s = new Set<number>();
    for (const model of picked) {
      const d = shownFrame === null ? undefined : dets[resultKey({ imageId, frame: shownFrame, model })];
      if (d?.state === 'done') for (const stage of spatialStages(d.value)) s.add(stage);
    }
    return s.size ? [...s].sort((a, b) => a - b) : [1, 2, 3, 4];
  }, [dets, picked, imageId, shownFrame]);

  const truth = truths[imageId] ?? null;
  // A truth of another size than the open image (its file replaced since, or a resampled copy) would be drawn in the wrong place.
  const truthFits = !!truth && !!frame && truth.width === frame.columns && truth.height === frame.rows;
  const outline = truth && truthFits && showTruth ? truth.outline : null;
  // Only this image's comparison knows the operating points; elsewhere, and for a model whose report has
  // none, the shared threshold cuts.
  const canOperate = !!truth && Object.keys(truth.operating).length > 0;
  const operatingOf = (model: string) => (canOperate && shared.boxesAt === 'operating' ? truth!.operating[model] : undefined);
  // A model picked here that the comparison did not score has no operating point: the slider cuts its boxes.
  const thresholdUsed = picked.some((m) => operatingOf(m) === undefined);
  const set = (patch: Partial<Shared>) => setShared((s) => ({ ...s, ...patch }));
  const running = picked.some((m) => shownFrame !== null && dets[resultKey({ imageId, frame: shownFrame, model: m })]?.state === 'running');

  return (
    <section className="sbs" data-testid="side-by-side" aria-label="side by side overlays" ref={root}>
      <h3 className="sbs-title">Side by side</h3>
      <div className="sbs-controls">
        <label className="sbs-field">
          Image
          <select value={imageId} onChange={(e) => ((autoRun.current = null), setImageId(e.target.value), setFrameIndex(0))} onFocus={() => void refreshImages()} data-testid="sbs-image-select">
            {images.length === 0 && <option value="">No image open</option>}
            {images.map((i) => (
              <option key={i.id} value={i.id}>
                {i.name} ({i.columns}×{i.rows}
                {i.frames > 1 ? `, ${i.frames} frames` : ''})
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void openDialog()} data-testid="sbs-open">
          Open files…
        </button>
        <input ref={fileInput} type="file" multiple hidden data-testid="sbs-file-input" onChange={(e) => void openFiles(e.target.files).finally(() => (e.target.value = ''))} />
        {frames > 1 && (
          <label className="sbs-field">
            Frame {frameIndex + 1}/{frames}
            <input type="range" min={0} max={frames - 1} value={frameIndex} onChange={(e) => setFrameIndex(Number(e.target.value))} data-testid="sbs-frame" />
          </label>
        )}
        <div className="sbs-models" aria-label="models side by side">
          <span className="sbs-models-label">Models (2–{MAX_PANES})</span>
          {models.map((m) => (
            <label key={m.name} className="check">
              <input type="checkbox" checked={picked.includes(m.name)} disabled={!picked.includes(m.name) && picked.length >= MAX_PANES} onChange={() => toggle(m.name)} data-testid={`sbs-pick-${m.name}`} /> {m.name}{' '}
              <span className="muted">{m.variant}</span>
            </label>
          ))}
          {models.length === 0 && <span className="muted">No models.</span>}
        </div>
        <button type="button" className="primary" disabled={!frame || picked.length < 2 || running} onClick={run} data-testid="sbs-run">
          {running ? 'Running…' : `Run ${picked.length} models`}
        </button>
        {busy && <span className="muted">{busy}</span>}
      </div>
      <div className="sbs-controls">
        <label className="sbs-field">
          Map
          <select value={shared.layer} onChange={(e) => set({ layer: e.target.value as MapLayer })} data-testid="sbs-layer">
            <option value="none">None</option>
            <option value="heatmap">Lesion probability</option>
            <option value="supervised" title="the spatial gate training fitted to the lesion mask (for a model trained without that, the gate nearest the output)">
              Attention · supervised gate
            </option>
            {stages.map((s) => (
              <option key={s} value={`stage:${s}`}>
                Attention · stage {s}
              </option>
            ))}
            <option value="nonlocal">Attention · non-local</option>
            <option value="gradcam">Grad-CAM</option>
          </select>
        </label>
        <label className="sbs-field">
          Opacity {Math.round(shared.opacity * 100)}%
          <input type="range" min={0} max={1} step={0.05} value={shared.opacity} onChange={(e) => set({ opacity: Number(e.target.value) })} data-testid="sbs-opacity" />
        </label>
        <label className="sbs-field">
          Colour map
          <ColormapSelect value={shared.colormap} onChange={(colormap) => set({ colormap })} testId="sbs-colormap" />
        </label>
        {canOperate && (
          <label className="sbs-field" title="the comparison counted each model's lesions found and false positives at its own 1 FP/image operating point">
            Boxes at
            <select value={shared.boxesAt} onChange={(e) => set({ boxesAt: e.target.value as Shared['boxesAt'] })} data-testid="sbs-boxes-at">
              <option value="operating">each model's 1 FP/image point</option>
              <option value="threshold">one score threshold</option>
            </select>
          </label>
        )}
        {thresholdUsed && (
          <label className="sbs-field" title={canOperate && shared.boxesAt === 'operating' ? 'for the models the comparison did not score' : undefined}>
            Score ≥ {shared.threshold.toFixed(2)}
            <input type="range" min={0} max={1} step={0.01} value={shared.threshold} onChange={(e) => set({ threshold: Number(e.target.value) })} data-testid="sbs-threshold" />
          </label>
        )}
        <label className="check">
          <input type="checkbox" checked={shared.showBoxes} onChange={(e) => set({ showBoxes: e.target.checked })} /> Boxes
        </label>
        {truth && (
          <label className="check" title={truthFits ? `the dataset's lesion mask for ${truth.label}` : `the mask is ${truth.width}×${truth.height}, the image ${frame?.columns}×${frame?.rows}: not drawn`}>
            <input type="checkbox" checked={showTruth} disabled={!truthFits} onChange={(e) => setShowTruth(e.target.checked)} data-testid="sbs-truth" /> <span className="truth-swatch" /> Ground truth
          </label>
        )}
        <div className="sbs-group" role="toolbar" aria-label="view">
          <button type="button" className={tool === 'pan' ? 'tool active' : 'tool'} onClick={() => setTool('pan')} title="Drag pans">
            Pan
          </button>
          <button type="button" className={tool === 'wl' ? 'tool active' : 'tool'} onClick={() => setTool('wl')} title="Drag sets window/level">
            W/L
          </button>
          <select aria-label="Window preset" value="" disabled={!summary} onChange={(e) => presets[Number(e.target.value)] && setModeAll(presets[Number(e.target.value)].mode)} data-testid="sbs-preset">
            <option value="">{voiText || 'Window…'}</option>
            {presets.map((p, i) => (
              <option key={i} value={i}>
                {presetLabel(p)}
              </option>
            ))}
          </select>
          <button type="button" className="tool" onClick={() => all((e) => e.fit())} data-testid="sbs-fit">
            Fit
          </button>
          <button type="button" className="tool" onClick={() => all((e) => e.actualSize())} data-testid="sbs-1to1">
            1:1
          </button>
          <button type="button" className={invert ? 'tool active' : 'tool'} onClick={() => setInvert((v) => !v)}>
            Invert
          </button>
          <span className="muted sbs-zoom" data-testid="sbs-zoom" data-zoom={zoom.toFixed(4)}>
            {Math.round(zoom * 100)}%
          </span>
        </div>
      </div>
      {error && (
        <p className="training-error" role="alert">
          {error}
        </p>
      )}
      {picked.length < 2 && <p className="muted small">Pick two to four models.</p>}
      <div className={`sbs-grid panes-${picked.length}`}>
        {picked.map((model, i) => {
          const k = shownFrame === null ? '' : resultKey({ imageId, frame: shownFrame, model });
          return (
            <Pane
              key={model}
              index={i}
              model={model}
              info={models.find((m) => m.name === model)}
              det={k ? dets[k] : undefined}
              cam={k ? cams[k] : undefined}
              frame={frame}
              shared={shared}
              tool={tool}
              invert={invert}
              sync={sync}
              outline={outline}
              score={truth?.scores[model]}
              cut={operatingOf(model) === undefined ? shared.threshold : (operatingOf(model) ?? Infinity)}
              atOperating={operatingOf(model) !== undefined}
            />
          );
        })}
      </div>
      <p className="muted small">Wheel zooms and drag pans every pane together; double-click fits. Boxes show findings scoring at least {canOperate && shared.boxesAt === 'operating' ? `each model's 1 FP/image operating point${thresholdUsed ? ' (the threshold for a model the comparison did not score)' : ''}` : 'the threshold'}{truth ? '; the green outline is the dataset\'s ground truth' : ''}.</p>
    </section>
  );
}
