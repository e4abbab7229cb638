/**
 * The viewer tab: opening images, the study list, the viewport with its toolbar and frame slider, and the
 * detector panel. It owns what is open and selected; the viewport engine owns the pixels on screen.
 */
import { factsOfSummary, mismatch, rankModels, suggestModel } from '../../../preload/fit.ts';
import { type ModelOffer, useModelOffer } from '../hooks/useModelOffer.ts';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { FlipSet, FramePixels, ImageSummary, OpenResult, StudioApi } from '../../../preload/contract.ts';
import { DetectorPanel, type OverlaySettings } from '../detector/DetectorPanel.tsx';
import { colorize, mapRange } from '../detector/colormaps.ts';
import { detectionKey, resultKey, useDetection } from '../hooks/useDetection.ts';
import { useModels } from '../hooks/useModels.ts';
import { errorText } from '../shared/errors.ts';
import { latest } from '../shared/jobs.ts';
import { chooseMap } from '../shared/maps.ts';
import { HelpOverlay } from './HelpOverlay.tsx';
import { StudyBrowser } from './StudyBrowser.tsx';
import { Viewport, type ViewportHandle } from './Viewport.tsx';
import type { OverlayState, Tool } from './engine.ts';
import { FrameCache } from './frameCache.ts';
import { fromDrop, fromFileList, uploadPicked } from './files.ts';
import { type Preset, initialMode, presetLabel, presetsFor } from './presets.ts';
import { IDENTITY_8BIT, type VoiMode } from './windowing.ts';

const NO_OVERLAY: OverlayState = { map: null, opacity: 0, boxes: [] };
const NO_IMAGE: VoiMode = { kind: 'window', voi: IDENTITY_8BIT };

/** Results carry full-size maps (tens of MB for a big image): keep only the most recent few. */
const KEEP_RESULTS = 8;

/** Why the viewer offers the model it shows, when that needs saying (useModelOffer). */
function offerText(offer: ModelOffer, model: string): string | undefined {
  if (offer.checking) return 'Checking which model knows images like this one…';
  if (offer.passedOver.length) return `Offered ${model}: ${offer.passedOver.join(', ')} ${offer.passedOver.length > 1 ? 'have' : 'has'} not seen images like this one.`;
  if (offer.noneKnows && offer.noneKnows.length > 1) return `None of the models for this kind of image (${offer.noneKnows.join(', ')}) has seen images like this one.`;
  return undefined;
}

export function ViewerPanel({ api, active, shell }: { api: StudioApi; active: boolean; shell: 'electron' | 'browser' }) {
  const [images, setImages] = useState<ImageSummary[]>([]);
  const [errors, setErrors] = useState<OpenResult['errors']>([]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [frameIndex, setFrameIndex] = useState(0);
  const [frame, setFrame] = useState<FramePixels | null>(null);
  const [frameError, setFrameError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [tool, setTool] = useState<Tool>('wl');
  const [invert, setInvert] = useState(false);
  const [help, setHelp] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [pathText, setPathText] = useState('');
  const cache = useMemo(() => new FrameCache(api), [api]);
  const modes = useRef(new Map<string, VoiMode>());
  const viewport = useRef<ViewportHandle>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  // Detector state
  const [modelsError, setModelsError] = useState<string | null>(null);
  const { models, loaded: modelsLoaded, refresh: refreshModels } = useModels(api, (err) => setModelsError(`models: ${errorText(err)}`));
  const [picked, setModel] = useState('');
  const summary = images.find((i) => i.id === selectedId) ?? null;
  const facts = useMemo(() => (summary ? factsOfSummary(summary) : null), [summary]);
  const [runOnOpen, setRunOnOpen] = useState(false);
  /** Mirror averaging for runs: the model card's choice, or one the user picked (none is the fastest). */
  const [flips, setFlips] = useState<FlipSet | 'card'>('card');
  // The model picked; while none is (or it has gone from the folder), the first whose card says the open
  // image is its kind (preload/fit.ts) and whose own features know images like it (useModelOffer), not
  // merely the first in the list.
  const handPicked = models.some((m) => m.name === picked) ? picked : null;
  const ranked = useMemo(() => (facts ? rankModels(models, facts).map((m) => m.name) : []), [models, facts]);
  const offer = useModelOffer(api, selectedId, ranked, handPicked, flips, models);
  const model = handPicked ?? offer.offered ?? ((facts ? suggestModel(models, facts) : models[0])?.name ?? '');
  const modelCard = models.find((m) => m.name === model)?.card;
  // Said before a run too, so no one has to run a model to learn it was the wrong one.
  const fitWarning = facts && model ? (mismatch(model, modelCard?.intendedUse, facts) ?? offer.checks.get(model)?.mismatch) : undefined;
  const offerNote = handPicked ? undefined : offerText(offer, model);
  const { detections, gradcams, detect, gradcam: computeGradcam } = useDetection(api, { keep: KEEP_RESULTS });
  const [settings, setSettings] = useState<OverlaySettings>({ layer: 'heatmap', opacity: 0.45, colormap: 'jet', showBoxes: true, threshold: 0.5 });

  // ---------------------------------------------------------------------------------------------
  // Opening

  const addResult = useCallback((r: OpenResult) => {
    setImages((prev) => {
      const known = new Set(prev.map((i) => i.id));
      return [...prev, ...r.images.filter((i) => !known.has(i.id))];
    });
    if (r.errors.length) setErrors((prev) => [...prev, ...r.errors]);
    if (r.images.length) {
      setSelectedId(r.images[0].id);
      setFrameIndex(0);
    }
  }, []);

  useEffect(() => {
    api['imaging.list']({}).then(
      (list) => {
        if (list.length) addResult({ images: list, errors: [] });
      },
      (err) => setErrors((e) => [...e, { file: 'session', message: errorText(err) }]),
    );
  }, [api, addResult]);

  const openPaths = useCallback(
    async (paths: string[]) => {
      if (!paths.length) return;
      setBusy(`Opening ${paths.length === 1 ? paths[0] : `${paths.length} items`}…`);
      try {
        addResult(await api['imaging.open']({ paths }));
      } catch (err) {
        setErrors((e) => [...e, ...paths.map((file) => ({ file, message: errorText(err) }))]);
      } finally {
        setBusy(null);
      }
    },
    [api, addResult],
  );

  const upload = useCallback(
    async (picked: ReturnType<typeof fromFileList>) => {
      if (!picked.length) return;
      setBusy(`Reading ${picked.length} file${picked.length > 1 ? 's' : ''}…`);
      try {
        addResult(await uploadPicked(api, picked, (done, total) => setBusy(`Opening ${done}/${total} files…`)));
      } finally {
        setBusy(null);
      }
    },
    [api, addResult],
  );

  const openDialog = async (folders: boolean) => {
    if (shell === 'electron') {
      try {
        const { paths } = await api['dialog.open']({ folders });
        await openPaths(paths);
      } catch (err) {
        setErrors((e) => [...e, { file: 'open dialog', message: errorText(err) }]);
      }
    } else (folders ? folderInput : fileInput).current?.click();
  };

  useEffect(() => {
    // React has no typed prop for it; set the attribute so the picker selects folders.
    folderInput.current?.setAttribute('webkitdirectory', '');
  }, []);

  const closeAll = async () => {
    const ids = images.map((i) => i.id);
    setImages([]);
    setSelectedId(null);
    setFrame(null);
    detections.clear();
    gradcams.clear();
    cache.drop(new Set(ids));
    if (ids.length) await api['imaging.close']({ ids }).catch(() => undefined);
  };

  // ---------------------------------------------------------------------------------------------
  // Frames

  useEffect(() => {
    if (!selectedId) return;
    let current = true;
    const hit = cache.peek(selectedId, frameIndex);
    if (hit) {
      setFrame(hit);
      setFrameError(null);
      return;
    }
    setLoading(true);
    cache.get(selectedId, frameIndex).then(
      (px) => {
        if (!current) return;
        setFrame(px);
        setFrameError(null);
        setLoading(false);
        // Fetch the next frames ahead so scrolling through a series does not wait on each one.
        for (const next of [frameIndex + 1, frameIndex + 2]) if (next < framesRef.current) cache.get(selectedId, next).catch(() => undefined);
      },
      (err) => {
        if (!current) return;
        setFrameError(errorText(err));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [cache, selectedId, frameIndex]);

  const frames = summary?.frames ?? 1;
  const framesRef = useRef(frames);
  framesRef.current = frames;
  const stepFrame = useCallback((d: number) => setFrameIndex((f) => Math.min(frames - 1, Math.max(0, f + d))), [frames]);
  const selectImage = useCallback(
    (id: string) => {
      if (id === selectedId) return;
      setSelectedId(id);
      setFrameIndex(0);
    },
    [selectedId],
  );

  const hasVoiLut = !!frame?.voiLut && frame.id === selectedId;
  const presets: Preset[] = useMemo(() => (summary ? presetsFor(summary, hasVoiLut) : []), [summary, hasVoiLut]);
  const mode = summary ? (modes.current.get(summary.id) ?? initialMode(summary, hasVoiLut)) : NO_IMAGE;
  const applyPreset = (p: Preset) => {
    viewport.current?.setMode(p.mode);
  };
  const onView = useCallback(
    (s: { mode: VoiMode }) => {
      if (frame) modes.current.set(frame.id, s.mode);
    },
    [frame],
  );
  const reset = () => {
    if (!summary) return;
    modes.current.delete(summary.id);
    viewport.current?.setMode(initialMode(summary, hasVoiLut));
    viewport.current?.fit();
    setInvert(false);
  };

  // ---------------------------------------------------------------------------------------------
  // Detector

  const shownFrame = frame && frame.id === selectedId ? frame.frame : null;
  const target = useMemo(() => (selectedId && shownFrame !== null && model ? { imageId: selectedId, frame: shownFrame, model } : null), [selectedId, shownFrame, model]);
  const detKey = target ? detectionKey(target, flips) : null;
  const detJob = detKey ? detections.jobs[detKey] : undefined;
  const camJob = target ? gradcams.jobs[resultKey(target)] : undefined;
  // A run again shows the last answer until the new one comes.
  const result = latest(detJob) ?? null;
  const gradcam = latest(camJob) ?? null;
  const detError = detJob?.state === 'error' ? detJob.error : camJob?.state === 'error' ? `Grad-CAM: ${camJob.error}` : modelsError;

  // Where the model is offered rather than picked, a run waits for the offer: it may name another model.
  const offerSettled = !!handPicked || !offer.checking;
  const runDetector = useCallback(() => {
    if (target && offerSettled) void detect(target, flips);
  }, [detect, target, flips, offerSettled]);

  const runGradcam = useCallback(() => {
    if (!target) return;
    void computeGradcam(target).then((r) => r && setSettings((s) => ({ ...s, layer: 'gradcam' })));
  }, [computeGradcam, target]);

  useEffect(() => {
    if (runOnOpen && offerSettled && detKey && !latest(detJob) && detJob?.state !== 'running') runDetector();
    // Only a new image, frame, model or averaging (or the offer settling) should trigger a run, not the results arriving.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runOnOpen, detKey, offerSettled]);

  const layerMap = useMemo(() => {
    const chosen = chooseMap(settings.layer, result ?? undefined, camJob);
    return chosen && 'map' in chosen ? chosen : null;
  }, [settings.layer, result, camJob]);
  const range = useMemo(() => (layerMap ? mapRange(layerMap.map, layerMap.probability) : null), [layerMap]);
  const mapCanvas = useMemo(() => (layerMap && range ? colorize(layerMap.map, settings.colormap, range) : null), [layerMap, range, settings.colormap]);
  const overlay: OverlayState = useMemo(() => {
    if (!frame || frame.id !== selectedId) return NO_OVERLAY;
    return {
      map: mapCanvas,
      opacity: settings.opacity,
      boxes: settings.showBoxes && result ? result.findings.filter((f) => f.score >= settings.threshold).map((f) => ({ box: f.box, score: f.score })) : [],
    };
  }, [frame, selectedId, mapCanvas, settings.opacity, settings.showBoxes, settings.threshold, result]);

  // ---------------------------------------------------------------------------------------------
  // Keyboard

  const keyState = useRef({ presets, images, selectedId, frames, runDetector, summary });
  keyState.current = { presets, images, selectedId, frames, runDetector, summary };
  useEffect(() => {
    if (!active) return;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      // Typing in a text box is typing; on a slider or checkbox only the keys it uses itself are its own.
      const control = t instanceof HTMLInputElement && ['range', 'checkbox', 'radio', 'button', 'submit'].includes(t.type);
      if (control && /^(Arrow\w+|PageUp|PageDown|Home|End| |Enter)$/.test(e.key)) return;
      if (t && !control && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const s = keyState.current;
      const k = e.key;
      let handled = true;
      if (k === 'Escape') setHelp(false);
      else if (k === 'h' || k === 'H' || k === '?') setHelp((h) => !h);
      else if (k === 'w' || k === 'W') setTool('wl');
      else if (k === 'p' || k === 'P') setTool('pan');
      else if (k === 'z' || k === 'Z') setTool('zoom');
      else if (k === 'f' || k === 'F') viewport.current?.fit();
      else if (k === 'a' || k === 'A') viewport.current?.actualSize();
      else if (k === '+' || k === '=') viewport.current?.zoomBy(1.25);
      else if (k === '-' || k === '_') viewport.current?.zoomBy(0.8);
      else if (k === 'i' || k === 'I') setInvert((v) => !v);
      else if (k === 'r' || k === 'R') resetRef.current();
      else if (/^[1-9]$/.test(k)) {
        const p = s.presets[Number(k) - 1];
        if (p) viewport.current?.setMode(p.mode);
      } else if (k === 'ArrowDown' || k === 'PageDown') setFrameIndex((f) => Math.min(s.frames - 1, f + 1));
      else if (k === 'ArrowUp' || k === 'PageUp') setFrameIndex((f) => Math.max(0, f - 1));
      else if (k === 'Home') setFrameIndex(0);
      else if (k === 'End') setFrameIndex(s.frames - 1);
      else if (k === 'ArrowRight' || k === 'ArrowLeft') {
        const i = s.images.findIndex((im) => im.id === s.selectedId);
        const next = s.images[i + (k === 'ArrowRight' ? 1 : -1)];
        if (next) {
          setSelectedId(next.id);
          setFrameIndex(0);
        }
      } else if (k === 'd' || k === 'D') s.runDetector();
      else if (k === 'o' || k === 'O') setSettings((st) => ({ ...st, layer: st.layer === 'none' ? 'heatmap' : 'none' }));
      else if (k === 'b' || k === 'B') setSettings((st) => ({ ...st, showBoxes: !st.showBoxes }));
      else handled = false;
      if (handled) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [active]);
  const resetRef = useRef(reset);
  resetRef.current = reset;

  // ---------------------------------------------------------------------------------------------

  // Where the viewer chooses the model, a run waits until the models have been asked: it may name another.
  const canRun = !!model && shownFrame !== null && offerSettled;
  return (
    <div
      className={dragging ? 'viewer dragging' : 'viewer'}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        void fromDrop(e.dataTransfer.items).then(upload, (err) => setErrors((x) => [...x, { file: 'drop', message: errorText(err) }]));
      }}
    >
      <aside className="sidebar">
        <div className="open-bar">
          <button type="button" className="primary" onClick={() => void openDialog(false)} data-testid="open-files">
            Open files…
          </button>
          <button type="button" onClick={() => void openDialog(true)} data-testid="open-folder">
            Open folder…
          </button>
          <input ref={fileInput} type="file" multiple hidden data-testid="file-input" onChange={(e) => void upload(fromFileList(e.target.files)).finally(() => (e.target.value = ''))} />
          <input ref={folderInput} type="file" multiple hidden data-testid="folder-input" onChange={(e) => void upload(fromFileList(e.target.files)).finally(() => (e.target.value = ''))} />
        </div>
        {shell === 'browser' && (
          <form
            className="path-form"
            onSubmit={(e) => {
              e.preventDefault();
              const p = pathText.trim();
              if (p) void openPaths([p]);
            }}
          >
            <input type="text" placeholder="Path on this machine…" value={pathText} onChange={(e) => setPathText(e.target.value)} aria-label="Path to open" data-testid="open-path" />
            <button type="submit" disabled={!pathText.trim()}>
              Open
            </button>
          </form>
        )}
        {busy && (
          <div className="busy" data-testid="busy">
            {busy}
          </div>
        )}
        {errors.length > 0 && (
          <div className="open-errors" role="alert" data-testid="open-errors">
            <div className="open-errors-head">
              <span>
                {errors.length} file{errors.length > 1 ? 's' : ''} could not be opened
              </span>
              <button type="button" className="link" onClick={() => setErrors([])}>
                Dismiss
              </button>
            </div>
            <ul>
              {errors.slice(-200).map((e, i) => (
                <li key={i} title={e.file}>
                  <span className="err-file">{e.file.split(/[\\/]/).pop() || e.file}</span>
                  <span className="err-msg">{e.message.startsWith(`${e.file}: `) ? e.message.slice(e.file.length + 2) : e.message}</span>
                </li>
              ))}
            </ul>
          </div>
        )}
        <div className="list-head">
          <span>
            Studies <span className="muted">· {images.length} image{images.length === 1 ? '' : 's'}</span>
          </span>
          {images.length > 0 && (
            <button type="button" className="link" onClick={() => void closeAll()}>
              Close all
            </button>
          )}
        </div>
        <StudyBrowser images={images} selected={selectedId} onSelect={selectImage} />
      </aside>

      <section className="center">
        <div className="toolbar" role="toolbar" aria-label="View tools">
          <div className="group">
            {(['wl', 'pan', 'zoom'] as Tool[]).map((t) => (
              <button key={t} type="button" className={tool === t ? 'tool active' : 'tool'} onClick={() => setTool(t)} title={t === 'wl' ? 'Window/level (W)' : t === 'pan' ? 'Pan (P)' : 'Zoom (Z)'}>
                {t === 'wl' ? 'W/L' : t === 'pan' ? 'Pan' : 'Zoom'}
              </button>
            ))}
          </div>
          <div className="group">
            <select
              aria-label="Window preset"
              value=""
              onChange={(e) => {
                const p = presets[Number(e.target.value)];
                if (p) applyPreset(p);
              }}
              disabled={!summary}
              data-testid="preset-select"
            >
              <option value="">Window presets…</option>
              {presets.map((p, i) => (
                <option key={i} value={i}>
                  {i < 9 ? `${i + 1} · ` : ''}
                  {presetLabel(p)}
                </option>
              ))}
            </select>
          </div>
          <div className="group">
            <button type="button" className="tool" onClick={() => viewport.current?.fit()} title="Fit (F)">
              Fit
            </button>
            <button type="button" className="tool" onClick={() => viewport.current?.actualSize()} title="Actual size (A)">
              1:1
            </button>
            <button type="button" className={invert ? 'tool active' : 'tool'} onClick={() => setInvert((v) => !v)} title="Invert (I)" data-testid="invert">
              Invert
            </button>
            <button type="button" className="tool" onClick={reset} title="Reset (R)">
              Reset
            </button>
          </div>
          <div className="spacer" />
          <button type="button" className="tool" onClick={() => setHelp(true)} title="Keyboard shortcuts (H)" data-testid="help-button">
            ?
          </button>
        </div>
        <Viewport
          summary={summary}
          frame={frame}
          mode={mode}
          invert={invert}
          tool={tool}
          overlay={overlay}
          loading={loading}
          onFrameStep={stepFrame}
          onView={onView}
          handle={viewport}
        />
        {frameError && (
          <div className="frame-error" role="alert">
            {summary?.name}: {frameError}
          </div>
        )}
        {frames > 1 && (
          <div className="frame-bar">
            <button type="button" className="tool" onClick={() => stepFrame(-1)} disabled={frameIndex === 0} aria-label="Previous frame">
              ‹
            </button>
            <input type="range" min={0} max={frames - 1} value={frameIndex} onChange={(e) => setFrameIndex(Number(e.target.value))} aria-label="Frame" data-testid="frame-slider" />
            <button type="button" className="tool" onClick={() => stepFrame(1)} disabled={frameIndex >= frames - 1} aria-label="Next frame">
              ›
            </button>
            <span className="frame-count">
              {frameIndex + 1} / {frames}
            </span>
          </div>
        )}
        {dragging && <div className="drop-hint">Drop files or folders to open them</div>}
      </section>

      <aside className="sidebar right">
        <DetectorPanel
          models={modelsLoaded ? models : null}
          model={model}
          onModel={setModel}
          onRefreshModels={refreshModels}
          runOnOpen={runOnOpen}
          onRunOnOpen={setRunOnOpen}
          canRun={canRun}
          flips={flips}
          onFlips={setFlips}
          running={detJob?.state === 'running'}
          gradcamRunning={camJob?.state === 'running'}
          error={detError}
          result={result}
          mismatch={result?.mismatch ?? fitWarning}
          offerNote={offerNote ?? (offer.error && !handPicked ? `Could not check a model: ${offer.error}` : undefined)}
          gradcam={gradcam}
          settings={settings}
          onSettings={setSettings}
          onRun={runDetector}
          onGradcam={runGradcam}
          legend={layerMap && range ? { ...range, label: layerMap.label } : null}
        />
      </aside>
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
    </div>
  );
}
