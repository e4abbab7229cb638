/**
 * The image under review with its findings drawn over it, and the pointer tools: select a box, edit the
 * selected one with handles (E), draw a new box (B), paint a mask with a brush (M). The canvas reports
 * its view transform in data attributes so end-to-end tests can aim at image pixels.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { FramePixels, ReviewFinding } from '../../../preload/contract.ts';
import { type Voi, windowGrey, windowRgb } from '../viewer/windowing.ts';
import { type Box, type Handle, type View, boxAt, dragBox, fitView, handlePoints, hitHandle, normBox, toImage, toScreen } from './geometry.ts';
import { rleDecode } from '../../../preload/mask-rle.ts';
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
  voi: Voi | null;
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

export function ReviewCanvas(p: Props) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const masks = useRef(new Map<string, HTMLCanvasElement>());
  /** The bitmap `masks` were drawn for: another image clears them. */
  const masksFor = useRef<HTMLCanvasElement | null>(null);
  const paintLayer = useRef<HTMLCanvasElement | null>(null);
  const drag = useRef<Drag | null>(null);
  const pointer = useRef<[number, number] | null>(null);
  const [size, setSize] = useState({ w: 600, h: 400 });
  const [tick, setTick] = useState(0);
  const redraw = () => setTick((t) => t + 1);

  const w = p.frame?.columns ?? 0;
  const h = p.frame?.rows ?? 0;
  const view: View | null = p.frame ? fitView(w, h, size.w, size.h) : null;

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setSize({ w: Math.max(50, el.clientWidth), h: Math.max(50, el.clientHeight) }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // The windowed image, rebuilt only when the pixels or the window change.
  const bitmap = useMemo(() => {
    const f = p.frame;
    if (!f || !p.voi) return null;
    const c = document.createElement('canvas');
    c.width = f.columns;
    c.height = f.rows;
    const img = new ImageData(f.columns, f.rows);
    const out = new Uint32Array(img.data.buffer);
    if (f.channels === 1) windowGrey(f.data as Float32Array, p.voi, f.invert, out);
    else windowRgb(f.data as Uint8Array, p.voi, false, out);
    c.getContext('2d')!.putImageData(img, 0, 0);
    return c;
  }, [p.frame, p.voi]);

  // A new mode is a new render, which the drawing effect below follows.
  useEffect(() => {
    if (p.mode !== 'mask') paintLayer.current = null;
  }, [p.mode]);

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    c.width = size.w;
    c.height = size.h;
    const g = c.getContext('2d')!;
    g.fillStyle = '#000';
    g.fillRect(0, 0, size.w, size.h);
    if (masksFor.current !== bitmap) {
      masks.current.clear();
      masksFor.current = bitmap;
    }
    if (!view || !bitmap) return;
    g.imageSmoothingEnabled = view.scale < 1;
    g.drawImage(bitmap, view.ox, view.oy, w * view.scale, h * view.scale);

    for (const f of p.findings) {
      if (!f.mask || f.mask.size[0] !== h || f.mask.size[1] !== w) continue;
      const key = `${f.id}:${f.mask.counts.length}:${f.mask.counts[1] ?? 0}`;
      let m = masks.current.get(key);
      if (!m) masks.current.set(key, (m = maskCanvas(rleDecode(f.mask).data, w, h, [215, 123, 255, 90])));
      g.drawImage(m, view.ox, view.oy, w * view.scale, h * view.scale);
    }
    if (p.mode === 'mask' && p.paint.current) {
      if (!paintLayer.current) paintLayer.current = maskCanvas(p.paint.current, w, h, [255, 212, 0, 110]);
      g.drawImage(paintLayer.current, view.ox, view.oy, w * view.scale, h * view.scale);
    }

    const d = drag.current;
    for (const f of p.findings) {
      const selected = f.id === p.selectedId;
      const box = d?.kind === 'edit' && d.id === f.id ? d.box : f.box;
      const [sx0, sy0] = toScreen(view, box[0], box[1]);
      const [sx1, sy1] = toScreen(view, box[2], box[3]);
      g.strokeStyle = DECISION_COLOURS[f.decision];
      g.lineWidth = selected ? 3 : 1.5;
      g.setLineDash(f.decision === 'rejected' ? [6, 4] : []);
      g.strokeRect(sx0, sy0, sx1 - sx0, sy1 - sy0);
      g.setLineDash([]);
      const label = `${f.score !== undefined ? f.score.toFixed(2) : f.source}${f.decision !== 'pending' ? ` ${f.decision}` : ''}`;
      g.font = selected ? 'bold 12px system-ui' : '11px system-ui';
      const tw = g.measureText(label).width;
      g.fillStyle = '#000a';
      g.fillRect(sx0, sy0 - 16, tw + 8, 15);
      g.fillStyle = DECISION_COLOURS[f.decision];
      g.fillText(label, sx0 + 4, sy0 - 4);
      if (selected && p.mode === 'edit') {
        g.fillStyle = '#fff';
        for (const [, x, y] of handlePoints(box)) {
          const [hx, hy] = toScreen(view, x, y);
          g.fillRect(hx - 4, hy - 4, 8, 8);
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
    if (p.mode === 'mask' && pointer.current) {
      g.strokeStyle = '#ffd400';
      g.lineWidth = 1;
      g.beginPath();
      g.arc(pointer.current[0], pointer.current[1], p.brush * view.scale, 0, Math.PI * 2);
      g.stroke();
    }
  });

  const local = (e: React.PointerEvent): [number, number] => {
    const r = canvas.current!.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  const onDown = (e: React.PointerEvent) => {
    if (!view || e.button !== 0) return;
    const [sx, sy] = local(e);
    const pt = toImage(view, sx, sy);
    canvas.current!.setPointerCapture(e.pointerId);
    if (p.mode === 'box') {
      drag.current = { kind: 'draw', start: pt, end: pt };
    } else if (p.mode === 'mask') {
      if (!p.paint.current) return;
      const value: 0 | 1 = e.shiftKey || e.altKey ? 0 : 1;
      paintDisc(p.paint.current, w, h, pt[0], pt[1], p.brush, value);
      paintLayer.current = null;
      drag.current = { kind: 'paint', value, last: pt };
      p.onPainted();
    } else {
      const sel = p.findings.find((f) => f.id === p.selectedId);
      const handle = p.mode === 'edit' && sel ? hitHandle(sel.box, view, sx, sy) : null;
      if (sel && handle) {
        drag.current = { kind: 'edit', id: sel.id, handle, start: pt, from: sel.box, box: sel.box };
      } else {
        const hit = boxAt(p.findings, view, sx, sy);
        if (hit) p.onSelect(hit.id);
      }
    }
    redraw();
  };

  const onMove = (e: React.PointerEvent) => {
    if (!view) return;
    const [sx, sy] = local(e);
    pointer.current = [sx, sy];
    const pt = toImage(view, sx, sy);
    const d = drag.current;
    if (d?.kind === 'draw') d.end = pt;
    else if (d?.kind === 'edit') d.box = dragBox(d.from, d.handle, pt[0] - d.start[0], pt[1] - d.start[1], w, h);
    else if (d?.kind === 'paint' && p.paint.current) {
      // Fill the stroke between pointer events so a fast drag leaves no gaps.
      const steps = Math.max(1, Math.ceil(Math.hypot(pt[0] - d.last[0], pt[1] - d.last[1]) / Math.max(1, p.brush / 2)));
      for (let i = 1; i <= steps; i++) paintDisc(p.paint.current, w, h, d.last[0] + ((pt[0] - d.last[0]) * i) / steps, d.last[1] + ((pt[1] - d.last[1]) * i) / steps, p.brush, d.value);
      d.last = pt;
      paintLayer.current = null;
    }
    redraw();
  };

  const onUp = () => {
    const d = drag.current;
    drag.current = null;
    if (d?.kind === 'draw') {
      const box = normBox(d.start[0], d.start[1], d.end[0], d.end[1], w, h);
      if (box && box[2] - box[0] >= 2 && box[3] - box[1] >= 2) p.onDrawBox(box);
    } else if (d?.kind === 'edit') {
      if (d.box.some((v, i) => v !== d.from[i])) p.onEditBox(d.id, d.box);
    } else if (d?.kind === 'paint') p.onPainted();
    redraw();
  };

  const cursor = p.mode === 'box' || p.mode === 'mask' ? 'crosshair' : p.mode === 'edit' ? 'move' : 'default';
  return (
    <div ref={wrap} className="review-canvas-wrap">
      <canvas
        ref={canvas}
        data-testid="review-canvas"
        data-ready={bitmap ? 'true' : 'false'}
        data-scale={view?.scale ?? ''}
        data-ox={view?.ox ?? ''}
        data-oy={view?.oy ?? ''}
        data-tick={tick}
        style={{ cursor }}
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
        onPointerCancel={onUp}
        onPointerLeave={() => {
          pointer.current = null;
          redraw();
        }}
      />
    </div>
  );
}
