/**
 * The image under review with its findings drawn over it, on the viewer's engine (viewer/engine.ts: the
 * windowing, the view transform, wheel zoom, middle-drag pan), and the review's own pointer tools on the
 * left button: select a box, edit the selected one with handles (E), draw a new box (B), paint a mask with
 * a brush (M). The engine reports its view transform in the overlay canvas's data attributes, so
 * end-to-end tests can aim at image pixels.
 */
import { useEffect, useRef } from 'react';
import type { FramePixels, ReviewFinding } from '../../../preload/contract.ts';
import { rleDecode } from '../../../preload/mask-rle.ts';
import { type ScreenView, ViewEngine } from '../viewer/engine.ts';
import { IDENTITY_8BIT, type VoiMode } from '../viewer/windowing.ts';
import { type Box, type Handle, boxAt, dragBox, handlePoints, hitHandle, normBox, toImage, toScreen } from './geometry.ts';
import { paintDisc } from './rle.ts';

export type Mode = 'review' | 'edit' | 'box' | 'mask';

export const DECISION_COLOURS: Record<ReviewFinding['decision'], string> = {
  pending: '#ffd400',
  accepted: '#3ddc84',
  rejected: '#ff6b6b',
  edited: '#3ea6ff',
  added: '#d77bff',
};

interface Props {
  frame: FramePixels | null;
  /** The window the frame shows with (viewer/presets.ts initialMode). */
  voi: VoiMode | null;
  findings: ReviewFinding[];
  selectedId: number | null;
  mode: Mode;
  /** Brush radius in image pixels. */
  brush: number;
  /** The mask being painted (row-major, image size), owned by the panel so it can commit it. */
  paint: React.MutableRefObject<Uint8Array | null>;
  onSelect(id: number): void;
  onEditBox(id: number, box: Box): void;
  onDrawBox(box: Box): void;
  onPainted(): void;
}

type Drag =
  | { kind: 'edit'; id: number; handle: Handle; start: [number, number]; from: Box; box: Box }
  | { kind: 'draw'; start: [number, number]; end: [number, number] }
  | { kind: 'paint'; value: 0 | 1; last: [number, number] };

function maskCanvas(data: Uint8Array, w: number, h: number, rgba: [number, number, number, number]): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const img = new ImageData(w, h);
  const px = new Uint32Array(img.data.buffer);
  const [r, g, b, a] = rgba;
  const colour = ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
  for (let i = 0; i < data.length; i++) if (data[i]) px[i] = colour;
  c.getContext('2d')!.putImageData(img, 0, 0);
  return c;
}

/** What the pointer tools and the drawing read: the latest props, and the gesture under way. */
interface Live {
  props: Props;
  drag: Drag | null;
  /** The pointer over the view (CSS pixels), for the brush outline. */
  pointer: [number, number] | null;
  /**
   * Finding masks as image-sized canvases, for the frame they were drawn for, by the mask object itself: every
   * answer from the store is a new object, so a mask that changed (a reader's outline replacing the model's)
   * is never drawn from a stale canvas.
   */
  masks: WeakMap<object, HTMLCanvasElement>;
  masksFor: FramePixels | null;
  /** The painted mask as a canvas; null once the paint changes. */
  paintLayer: HTMLCanvasElement | null;
}

/** The findings, masks, gesture and brush, over the image in the view's CSS pixels. */
function drawReview(g: CanvasRenderingContext2D, view: ScreenView, live: Live): void {
  const p = live.props;
  const f = p.frame;
  if (!f) return;
  const { columns: w, rows: h } = f;
  if (live.masksFor !== f) {
    live.masks = new WeakMap();
    live.masksFor = f;
  }
  const over = (c: HTMLCanvasElement) => g.drawImage(c, view.ox, view.oy, w * view.scale, h * view.scale);
  g.imageSmoothingEnabled = view.scale < 1;
  for (const x of p.findings) {
    if (!x.mask || x.mask.size[0] !== h || x.mask.size[1] !== w) continue;
    let m = live.masks.get(x.mask);
    // A reader's outline in the accepted green, the model's own shape in violet.
    if (!m) live.masks.set(x.mask, (m = maskCanvas(rleDecode(x.mask).data, w, h, x.maskBy === 'reader' ? [61, 220, 132, 90] : [215, 123, 255, 90])));
    over(m);
  }
  if (p.mode === 'mask' && p.paint.current) {
    live.paintLayer ??= maskCanvas(p.paint.current, w, h, [255, 212, 0, 110]);
    over(live.paintLayer);
  }

  const d = live.drag;
  for (const x of p.findings) {
    const selected = x.id === p.selectedId;
    const box = d?.kind === 'edit' && d.id === x.id ? d.box : x.box;
    const [sx0, sy0] = toScreen(view, box[0], box[1]);
    const [sx1, sy1] = toScreen(view, box[2], box[3]);
    g.strokeStyle = DECISION_COLOURS[x.decision];
    g.lineWidth = selected ? 3 : 1.5;
    g.setLineDash(x.decision === 'rejected' ? [6, 4] : []);
    g.strokeRect(sx0, sy0, sx1 - sx0, sy1 - sy0);
    g.setLineDash([]);
    const label = `${x.score !== undefined ? x.score.toFixed(2) : x.source}${x.decision !== 'pending' ? ` ${x.decision}` : ''}`;
    g.font = selected ? 'bold 12px system-ui' : '11px system-ui';
    const tw = g.measureText(label).width;
    g.fillStyle = '#000a';
    g.fillRect(sx0, sy0 - 16, tw + 8, 15);
    g.fillStyle = DECISION_COLOURS[x.decision];
    g.fillText(label, sx0 + 4, sy0 - 4);
    if (selected && p.mode === 'edit') {
      g.fillStyle = '#fff';
      for (const [, hx, hy] of handlePoints(box)) {
        const [px, py] = toScreen(view, hx, hy);
        g.fillRect(px - 4, py - 4, 8, 8);
      }
    }
  }
  if (d?.kind === 'draw') {
    const [ax, ay] = toScreen(view, d.start[0], d.start[1]);
    const [bx, by] = toScreen(view, d.end[0], d.end[1]);
    g.strokeStyle = DECISION_COLOURS.added;
    g.lineWidth = 2;
    g.setLineDash([4, 3]);
    g.strokeRect(Math.min(ax, bx), Math.min(ay, by), Math.abs(bx - ax), Math.abs(by - ay));
    g.setLineDash([]);
  }
  if (p.mode === 'mask' && live.pointer) {
    g.strokeStyle = '#ffd400';
    g.lineWidth = 1;
    g.beginPath();
    g.arc(live.pointer[0], live.pointer[1], p.brush * view.scale, 0, Math.PI * 2);
    g.stroke();
  }
}

/** The review's left-button tools; true when the press is theirs (every left press on an image is). */
function pointer(engine: ViewEngine, live: Live, phase: 'down' | 'move' | 'up' | 'leave', e: PointerEvent, sx: number, sy: number): boolean {
  const p = live.props;
  const f = p.frame;
  if (!f) return false;
  const { columns: w, rows: h } = f;
  const view = engine.getView();
  const pt = toImage(view, sx, sy);
  const d = live.drag;
  if (phase === 'leave') live.pointer = null;
  else if (phase === 'down') {
    if (p.mode === 'box') live.drag = { kind: 'draw', start: pt, end: pt };
    else if (p.mode === 'mask') {
      if (p.paint.current) {
        const value: 0 | 1 = e.shiftKey || e.altKey ? 0 : 1;
        paintDisc(p.paint.current, w, h, pt[0], pt[1], p.brush, value);
        live.paintLayer = null;
        live.drag = { kind: 'paint', value, last: pt };
        p.onPainted();
      }
    } else {
      const sel = p.findings.find((x) => x.id === p.selectedId);
      const handle = p.mode === 'edit' && sel ? hitHandle(sel.box, view, sx, sy) : null;
      if (sel && handle) live.drag = { kind: 'edit', id: sel.id, handle, start: pt, from: sel.box, box: sel.box };
      else {
        const hit = boxAt(p.findings, view, sx, sy);
        if (hit) p.onSelect(hit.id);
      }
    }
  } else if (phase === 'move') {
    live.pointer = [sx, sy];
    if (d?.kind === 'draw') d.end = pt;
    else if (d?.kind === 'edit') d.box = dragBox(d.from, d.handle, pt[0] - d.start[0], pt[1] - d.start[1], w, h);
    else if (d?.kind === 'paint' && p.paint.current) {
      // Fill the stroke between pointer events so a fast drag leaves no gaps.
      const steps = Math.max(1, Math.ceil(Math.hypot(pt[0] - d.last[0], pt[1] - d.last[1]) / Math.max(1, p.brush / 2)));
      for (let i = 1; i <= steps; i++) paintDisc(p.paint.current, w, h, d.last[0] + ((pt[0] - d.last[0]) * i) / steps, d.last[1] + ((pt[1] - d.last[1]) * i) / steps, p.brush, d.value);
      d.last = pt;
      live.paintLayer = null;
    }
  } else {
    live.drag = null;
    if (d?.kind === 'draw') {
      const box = normBox(d.start[0], d.start[1], d.end[0], d.end[1], w, h);
      if (box && box[2] - box[0] >= 2 && box[3] - box[1] >= 2) p.onDrawBox(box);
    } else if (d?.kind === 'edit') {
      if (d.box.some((v, i) => v !== d.from[i])) p.onEditBox(d.id, d.box);
    } else if (d?.kind === 'paint') p.onPainted();
  }
  engine.redraw();
  return true;
}

export function ReviewCanvas(props: Props) {
  const hostRef = useRef<HTMLDivElement>(null);
  const baseRef = useRef<HTMLCanvasElement>(null);
  const overRef = useRef<HTMLCanvasElement>(null);
  const engineRef = useRef<ViewEngine | null>(null);
  const live = useRef<Live>({ props, drag: null, pointer: null, masks: new WeakMap(), masksFor: null, paintLayer: null });

  useEffect(() => {
    const l = live.current;
    const engine: ViewEngine = new ViewEngine(hostRef.current!, baseRef.current!, overRef.current!, {
      onView: () => undefined,
      onCursor: () => undefined,
      onFrameStep: () => undefined,
      onPointer: (phase, e, sx, sy) => pointer(engine, l, phase, e, sx, sy),
    });
    engine.tool = 'pan';
    engine.setOverlay({ map: null, opacity: 0, boxes: [], draw: (g, view) => drawReview(g, view, l) });
    engineRef.current = engine;
    return () => {
      engine.destroy();
      engineRef.current = null;
    };
  }, []);

  // The pointer tools and the drawing read the latest props (set on commit); any change draws again.
  useEffect(() => {
    const l = live.current;
    // Leaving mask mode drops the painted layer; a new paint buffer is drawn afresh.
    if (props.mode !== 'mask' || props.paint.current !== l.props.paint.current) l.paintLayer = null;
    l.props = props;
    engineRef.current?.redraw();
  });

  useEffect(() => {
    engineRef.current?.setFrame(props.frame, props.voi ?? { kind: 'window', voi: IDENTITY_8BIT }, false);
  }, [props.frame, props.voi]);

  const cursor = props.mode === 'box' || props.mode === 'mask' ? 'crosshair' : props.mode === 'edit' ? 'move' : 'default';
  return (
    <div ref={hostRef} className="viewport review-view" style={{ cursor }}>
      <canvas className="layer-image" ref={baseRef} />
      <canvas className="layer-overlay" ref={overRef} data-testid="review-canvas" />
    </div>
  );
}
