/**
 * The image view: the engine's canvases plus the corner annotations clinical viewers carry (patient and
 * study top left, image and frame top right, window and zoom bottom left, cursor value bottom right).
 * Corner text updates here, locally, so dragging the window re-renders only this small component.
 */
import { type Ref, useEffect, useImperativeHandle, useLayoutEffect, useRef, useState } from 'react';
import type { FramePixels, ImageSummary } from '../../../preload/contract.ts';
import { formatDate } from './StudyBrowser.tsx';
import { type CursorInfo, type OverlayState, type Tool, ViewEngine, type ViewState } from './engine.ts';
import type { VoiMode } from './windowing.ts';

export interface ViewportHandle {
  setMode(mode: VoiMode): void;
  getMode(): VoiMode | null;
  fit(): void;
  actualSize(): void;
  zoomBy(f: number): void;
}

interface Props {
  summary: ImageSummary | null;
  frame: FramePixels | null;
  /** The window to show this frame with (the image's remembered window, or its default). */
  mode: VoiMode;
  invert: boolean;
  tool: Tool;
  overlay: OverlayState;
  loading: boolean;
  onFrameStep(delta: number): void;
  onView(state: ViewState): void;
  handle: Ref<ViewportHandle>;
}

/**
 * The stored pixel value behind a modality value: (value − intercept) / slope. Modality values are float32,
 * so the inversion is rounded to 1/1000 (stored values are integers unless the pixel data is float).
 */
export function storedValue(value: number, rescale: { slope: number; intercept: number }): number {
  if (!rescale.slope) return NaN;
  return Math.round(((value - rescale.intercept) / rescale.slope) * 1000) / 1000;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3);
}

export function Viewport({ summary, frame, mode, invert, tool, overlay, loading, onFrameStep, onView, handle }: Props) {
  const hostRef = useRef<HTMLDivElement>(null);
  const baseRef = useRef<HTMLCanvasElement>(null);
  const overRef = useRef<HTMLCanvasElement>(null);
  const engineRef = useRef<ViewEngine | null>(null);
  const [view, setView] = useState<ViewState | null>(null);
  const [cursor, setCursor] = useState<CursorInfo | null>(null);
  // The engine's listeners call the latest props (set on commit: a render React throws away must not
  // change them).
  const callbacks = useRef({ onFrameStep, onView });
  useLayoutEffect(() => {
    callbacks.current = { onFrameStep, onView };
  });
  const lastImage = useRef<string | null>(null);

  useEffect(() => {
    const engine = new ViewEngine(hostRef.current!, baseRef.current!, overRef.current!, {
      onView: (s) => {
        setView(s);
        callbacks.current.onView(s);
      },
      onCursor: setCursor,
      onFrameStep: (d) => callbacks.current.onFrameStep(d),
    });
    engineRef.current = engine;
    return () => {
      engine.destroy();
      engineRef.current = null;
    };
  }, []);

  useImperativeHandle(
    handle,
    () => ({
      setMode: (m) => engineRef.current?.setMode(m),
      getMode: () => engineRef.current?.getMode() ?? null,
      fit: () => engineRef.current?.fit(),
      actualSize: () => engineRef.current?.actualSize(),
      zoomBy: (f) => engineRef.current?.zoomBy(f),
    }),
    [],
  );

  useEffect(() => {
    const engine = engineRef.current;
    if (!engine) return;
    // Scrolling frames of one image keeps zoom, pan and window; another image starts fitted.
    const same = !!frame && lastImage.current === frame.id;
    lastImage.current = frame?.id ?? null;
    engine.setFrame(frame, same ? engine.getMode() : mode, same);
    // `mode` is read only when the image changes: while it is shown, the engine owns the window.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [frame]);
  useEffect(() => engineRef.current?.setInvert(invert), [invert]);
  useEffect(() => {
    if (engineRef.current) engineRef.current.tool = tool;
  }, [tool]);
  useEffect(() => engineRef.current?.setOverlay(overlay), [overlay]);

  const voi = view?.mode.kind === 'window' ? view.mode.voi : null;
  const s = summary;
  return (
    <div className={`viewport tool-${tool}`} ref={hostRef} data-testid="viewport">
      <canvas className="layer-image" ref={baseRef} data-testid="image-canvas" />
      <canvas className="layer-overlay" ref={overRef} data-testid="overlay-canvas" />
      {s && (
        <>
          <div className="corner tl">
            {s.study.patientName && <div className="strong">{s.study.patientName}</div>}
            {s.study.patientId && <div>ID {s.study.patientId}</div>}
            {s.study.description && <div>{s.study.description}</div>}
            {s.study.date && <div>{formatDate(s.study.date)}</div>}
          </div>
          <div className="corner tr">
            <div className="strong">{s.name}</div>
            {(s.modality || s.series.description) && <div>{[s.modality, s.series.description].filter(Boolean).join(' · ')}</div>}
            <div>
              {s.columns} × {s.rows}
              {s.frames > 1 && frame ? ` · frame ${frame.frame + 1}/${s.frames}` : ''}
            </div>
            <div className="muted">{s.photometric}{s.transferSyntax ? ` · ${s.transferSyntax}` : ''}</div>
          </div>
          <div className="corner bl" data-testid="view-status">
            <div>
              {voi ? (
                <>
                  W <span data-testid="ww">{fmt(voi.width)}</span> L <span data-testid="wc">{fmt(voi.center)}</span>
                </>
              ) : (
                'VOI LUT'
              )}
              {view?.invert ? ' · inverted' : ''}
            </div>
            <div>Zoom {view ? Math.round(view.zoom * 100) : 100}%</div>
          </div>
          <div className="corner br" data-testid="pixel-readout">
            {cursor ? (
              <>
                <div>
                  X {cursor.x} Y {cursor.y}
                </div>
                <div className="strong">
                  {cursor.rgb ? `RGB ${cursor.rgb.join(', ')}` : `Value ${fmt(cursor.value ?? NaN)}${s.modality === 'CT' ? ' HU' : ''}`}
                </div>
                {!cursor.rgb && s.rescale && cursor.value !== undefined && (
                  <div className="muted" data-testid="stored-value">
                    stored {fmt(storedValue(cursor.value, s.rescale))}
                  </div>
                )}
              </>
            ) : (
              <div className="muted">—</div>
            )}
            {view && <div className="muted small">window {view.windowMs.toFixed(1)} ms</div>}
          </div>
        </>
      )}
      {loading && <div className="viewport-loading">Loading…</div>}
      {!s && !loading && (
        <div className="viewport-empty">
          <div className="empty-title">No image</div>
          <div>Open files or a folder, or drop them here.</div>
        </div>
      )}
    </div>
  );
}
