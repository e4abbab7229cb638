/**
 * The viewport's imperative core: two stacked canvases (image, overlay), the view transform, and the
 * mouse and wheel interactions. It lives outside React on purpose: windowing a 2048² frame on every
 * pointer move must not go through a React render. State flows in through setters; what the UI shows
 * (window, zoom, cursor value) flows out through callbacks coalesced to one per animation frame.
 *
 * Mouse: left drag uses the active tool (window/level by default: right = wider, up = brighter),
 * middle drag pans, right drag zooms, the wheel zooms about the cursor, Shift+wheel scrolls frames.
 */
import type { Box, FramePixels } from '../../../preload/contract.ts';
import { IDENTITY_8BIT, type Voi, type VoiMode, fullRange, renderFrame } from './windowing.ts';

export type Tool = 'wl' | 'pan' | 'zoom';

export interface OverlayBox {
  box: Box;
  score: number;
}

export interface OverlayState {
  /** The colourised map at its own size, stretched over the image's full extent. */
  map: HTMLCanvasElement | null;
  opacity: number;
  boxes: OverlayBox[];
  /** Ground truth: segments [x0, y0, x1, y1, …] in image pixels (viewer/outline.ts), drawn as a thin line. */
  outline?: Float32Array | null;
  /** Drawn last, in CSS pixels, for what a panel draws itself (the review's findings, masks and brush). */
  draw?(ctx: CanvasRenderingContext2D, view: ScreenView): void;
}

/** Image to screen (CSS pixels, relative to the view): screen = image · scale + offset. */
export interface ScreenView {
  scale: number;
  ox: number;
  oy: number;
}

export interface ViewState {
  mode: VoiMode;
  zoom: number;
  invert: boolean;
  windowMs: number;
}

export interface CursorInfo {
  x: number;
  y: number;
  /** Modality value for greyscale frames. */
  value?: number;
  rgb?: [number, number, number];
}

/** Zoom and the image point at the view's centre: what another view of the same image needs to match this one. */
export interface ViewTransform {
  zoom: number;
  cx: number;
  cy: number;
  /** Still fitted to the view (it refits on resize). */
  fitted: boolean;
}

export interface EngineCallbacks {
  onView(state: ViewState): void;
  onCursor(info: CursorInfo | null): void;
  onFrameStep(delta: number): void;
  /** After a draw whose zoom or pan differs from the last one reported or set (for synchronised views). */
  onTransform?(t: ViewTransform): void;
  /**
   * Left-button presses, the moves after them and hover moves, for a panel with pointer tools of its own
   * (the review's select, edit, box and brush); (sx, sy) in CSS pixels within the view. A 'down' answered
   * true is the panel's: the engine then neither windows nor pans with it.
   */
  onPointer?(phase: 'down' | 'move' | 'up' | 'leave', e: PointerEvent, sx: number, sy: number): boolean | void;
}

const MIN_ZOOM = 0.02;
const MAX_ZOOM = 64;

export class ViewEngine {
  tool: Tool = 'wl';
  private frame: FramePixels | null = null;
  private readonly offscreen = document.createElement('canvas');
  private imageData: ImageData | null = null;
  private pixels32: Uint32Array | null = null;
  private mode: VoiMode = { kind: 'window', voi: IDENTITY_8BIT };
  private invert = false;
  private zoom = 1;
  private panX = 0;
  private panY = 0;
  /** Keep the image fitted on resize until the user zooms or pans. */
  private fitted = true;
  private overlay: OverlayState = { map: null, opacity: 0.5, boxes: [] };
  private needsWindow = false;
  private needsDraw = false;
  private needsReport = false;
  private raf = 0;
  private windowMs = 0;
  private drag: { button: number; tool: Tool; x: number; y: number; startX: number; startY: number; id: number } | null = null;
  /** The pointer whose left-button drag `onPointer` took. */
  private handedOver: number | null = null;
  private readonly observer: ResizeObserver;
  private readonly cleanup: (() => void)[] = [];
  private dpr = window.devicePixelRatio || 1;
  private lastTransform = '';

  constructor(
    private readonly host: HTMLElement,
    private readonly base: HTMLCanvasElement,
    private readonly over: HTMLCanvasElement,
    private readonly cb: EngineCallbacks,
  ) {
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(host);
    const on = <K extends keyof HTMLElementEventMap>(type: K, fn: (e: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) => {
      host.addEventListener(type, fn as EventListener, opts);
      this.cleanup.push(() => host.removeEventListener(type, fn as EventListener, opts));
    };
    on('pointerdown', (e) => this.pointerDown(e));
    on('pointermove', (e) => this.pointerMove(e));
    on('pointerup', (e) => this.pointerUp(e));
    on('pointercancel', (e) => this.pointerUp(e));
    on('pointerleave', (e) => {
      this.cb.onCursor(null);
      this.cb.onPointer?.('leave', e, ...this.local(e));
    });
    on('wheel', (e) => this.wheel(e), { passive: false });
    on('contextmenu', (e) => e.preventDefault());
    on('dblclick', () => this.fit());
    this.resize();
  }

  destroy(): void {
    cancelAnimationFrame(this.raf);
    this.observer.disconnect();
    for (const fn of this.cleanup) fn();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** Show a frame. `keepView` keeps zoom and pan (frame scrolling); otherwise the image is fitted. */
  setFrame(frame: FramePixels | null, mode: VoiMode, keepView: boolean): void {
    const sizeChanged = !this.frame || !frame || this.frame.columns !== frame.columns || this.frame.rows !== frame.rows;
    this.frame = frame;
    this.mode = mode;
    if (frame && sizeChanged) {
      this.offscreen.width = frame.columns;
      this.offscreen.height = frame.rows;
      const ctx = this.offscreen.getContext('2d');
      this.imageData = ctx ? ctx.createImageData(frame.columns, frame.rows) : null;
      this.pixels32 = this.imageData ? new Uint32Array(this.imageData.data.buffer) : null;
    }
    if (!keepView || sizeChanged) this.fit(false);
    this.base.dataset.imageId = frame?.id ?? '';
    this.base.dataset.frame = frame ? String(frame.frame) : '';
    this.needsWindow = true;
    this.schedule();
  }

  setMode(mode: VoiMode): void {
    this.mode = mode;
    this.needsWindow = true;
    this.schedule();
  }

  setInvert(invert: boolean): void {
    this.invert = invert;
    this.needsWindow = true;
    this.schedule();
  }

  setOverlay(overlay: OverlayState): void {
    this.overlay = overlay;
    this.needsDraw = true;
    this.schedule();
  }

  getMode(): VoiMode {
    return this.mode;
  }

  /** How image pixels map to the view now (for hit tests in a panel's own pointer tools). */
  getView(): ScreenView {
    return { scale: this.zoom, ox: this.panX, oy: this.panY };
  }

  /** Draw the overlay again: what its `draw` reads has changed, though the overlay has not. */
  redraw(): void {
    this.needsDraw = true;
    this.schedule();
  }

  getTransform(): ViewTransform {
    return { zoom: this.zoom, cx: (this.host.clientWidth / 2 - this.panX) / this.zoom, cy: (this.host.clientHeight / 2 - this.panY) / this.zoom, fitted: this.fitted };
  }

  /** Match another view's transform; it is not reported back through onTransform, so views never echo. */
  setTransform(t: ViewTransform): void {
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, t.zoom));
    this.panX = this.host.clientWidth / 2 - t.cx * this.zoom;
    this.panY = this.host.clientHeight / 2 - t.cy * this.zoom;
    this.fitted = t.fitted;
    this.lastTransform = this.transformKey();
    this.needsDraw = true;
    this.needsReport = true;
    this.schedule();
  }

  private transformKey(): string {
    return `${this.zoom} ${this.panX} ${this.panY}`;
  }

  fit(report = true): void {
    const f = this.frame;
    const w = this.host.clientWidth;
    const h = this.host.clientHeight;
    this.fitted = true;
    if (!f || w === 0 || h === 0) return;
    this.zoom = Math.min(w / f.columns, h / f.rows) * 0.96;
    this.panX = (w - f.columns * this.zoom) / 2;
    this.panY = (h - f.rows * this.zoom) / 2;
    this.needsDraw = true;
    this.needsReport = report;
    this.schedule();
  }

  /** One image pixel to one screen (CSS) pixel, centred on the view's centre. */
  actualSize(): void {
    this.zoomAbout(1 / this.zoom, this.host.clientWidth / 2, this.host.clientHeight / 2);
  }

  zoomBy(factor: number): void {
    this.zoomAbout(factor, this.host.clientWidth / 2, this.host.clientHeight / 2);
  }

  // ---------------------------------------------------------------------------------------------
  // Interaction

  private zoomAbout(factor: number, sx: number, sy: number): void {
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const f = next / this.zoom;
    this.panX = sx - (sx - this.panX) * f;
    this.panY = sy - (sy - this.panY) * f;
    this.zoom = next;
    this.fitted = false;
    this.needsDraw = true;
    this.needsReport = true;
    this.schedule();
  }

  private local(e: MouseEvent): [number, number] {
    const r = this.host.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private pointerDown(e: PointerEvent): void {
    if (!this.frame || this.drag || this.handedOver !== null) return;
    const [x, y] = this.local(e);
    if (e.button === 0 && this.cb.onPointer?.('down', e, x, y)) {
      // No preventDefault: a press on the image still takes the focus from a text box, so keys work again.
      this.handedOver = e.pointerId;
      this.host.setPointerCapture(e.pointerId);
      return;
    }
    const tool: Tool = e.button === 1 ? 'pan' : e.button === 2 ? 'zoom' : this.tool;
    this.drag = { button: e.button, tool, x, y, startX: x, startY: y, id: e.pointerId };
    this.host.setPointerCapture(e.pointerId);
    if (tool === 'wl' && this.mode.kind !== 'window') this.mode = { kind: 'window', voi: this.currentVoi() };
    e.preventDefault();
  }

  private pointerMove(e: PointerEvent): void {
    const [x, y] = this.local(e);
    if (!this.drag) this.cb.onPointer?.('move', e, x, y);
    const d = this.drag;
    if (d && d.id === e.pointerId) {
      const dx = x - d.x;
      const dy = y - d.y;
      d.x = x;
      d.y = y;
      if (d.tool === 'wl' && this.mode.kind === 'window') {
        const f = this.frame!;
        const span = f.channels === 3 ? 256 : Math.max(1e-6, f.max - f.min);
        // A drag across about two thirds of a typical view sweeps the whole value range.
        const step = span / 600;
        const voi = this.mode.voi;
        this.mode = { kind: 'window', voi: { center: voi.center + dy * step, width: Math.max(step, voi.width + dx * step) } };
        this.needsWindow = true;
        this.needsReport = true;
      } else if (d.tool === 'pan') {
        this.panX += dx;
        this.panY += dy;
        this.fitted = false;
        this.needsDraw = true;
      } else if (d.tool === 'zoom') {
        this.zoomAbout(Math.exp(-dy * 0.01), d.startX, d.startY);
      }
      this.schedule();
    }
    this.reportCursor(x, y);
  }

  private pointerUp(e: PointerEvent): void {
    if (this.handedOver === e.pointerId) {
      this.handedOver = null;
      if (this.host.hasPointerCapture(e.pointerId)) this.host.releasePointerCapture(e.pointerId);
      this.cb.onPointer?.('up', e, ...this.local(e));
    }
    if (this.drag && this.drag.id === e.pointerId) {
      this.drag = null;
      if (this.host.hasPointerCapture(e.pointerId)) this.host.releasePointerCapture(e.pointerId);
    }
  }

  private wheel(e: WheelEvent): void {
    if (!this.frame) return;
    e.preventDefault();
    // Chromium turns Shift+wheel into a horizontal scroll on some platforms: read whichever axis moved.
    const delta = e.deltaY || e.deltaX;
    if (e.shiftKey || e.altKey) {
      if (delta) this.cb.onFrameStep(delta > 0 ? 1 : -1);
      return;
    }
    const [x, y] = this.local(e);
    const unit = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? 400 : 1;
    this.zoomAbout(Math.exp((-delta * unit) / 500), x, y);
  }

  private reportCursor(sx: number, sy: number): void {
    const f = this.frame;
    if (!f) return this.cb.onCursor(null);
    const x = Math.floor((sx - this.panX) / this.zoom);
    const y = Math.floor((sy - this.panY) / this.zoom);
    if (x < 0 || y < 0 || x >= f.columns || y >= f.rows) return this.cb.onCursor(null);
    const i = y * f.columns + x;
    if (f.channels === 3) {
      const d = f.data as Uint8Array;
      this.cb.onCursor({ x, y, rgb: [d[i * 3], d[i * 3 + 1], d[i * 3 + 2]] });
    } else this.cb.onCursor({ x, y, value: (f.data as Float32Array)[i] });
  }

  private currentVoi(): Voi {
    if (this.mode.kind === 'window') return this.mode.voi;
    return this.frame ? fullRange(this.frame) : IDENTITY_8BIT;
  }

  // ---------------------------------------------------------------------------------------------
  // Drawing

  private resize(): void {
    this.dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.host.clientWidth * this.dpr));
    const h = Math.max(1, Math.round(this.host.clientHeight * this.dpr));
    for (const c of [this.base, this.over]) {
      if (c.width !== w) c.width = w;
      if (c.height !== h) c.height = h;
    }
    if (this.fitted) this.fit();
    this.needsDraw = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.tick());
  }

  private tick(): void {
    this.raf = 0;
    if (this.needsWindow) {
      this.needsWindow = false;
      this.window();
      this.needsDraw = true;
      this.needsReport = true;
    }
    if (this.needsDraw) {
      this.needsDraw = false;
      const t0 = performance.now();
      this.draw();
      this.base.dataset.drawMs = (performance.now() - t0).toFixed(2);
    }
    if (this.needsReport) {
      this.needsReport = false;
      this.cb.onView({ mode: this.mode, zoom: this.zoom, invert: this.invert, windowMs: this.windowMs });
    }
  }

  private window(): void {
    const f = this.frame;
    if (!f || !this.imageData || !this.pixels32) return;
    this.windowMs = renderFrame(f, this.mode, this.invert, this.pixels32);
    this.offscreen.getContext('2d')!.putImageData(this.imageData, 0, 0);
    const voi = this.mode.kind === 'window' ? this.mode.voi : null;
    this.base.dataset.voi = voi ? `${voi.center.toFixed(2)}/${voi.width.toFixed(2)}` : 'lut';
    this.base.dataset.windowMs = this.windowMs.toFixed(2);
  }

  private draw(): void {
    const ctx = this.base.getContext('2d');
    const octx = this.over.getContext('2d');
    if (!ctx || !octx) return;
    const { dpr } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.base.width, this.base.height);
    octx.setTransform(1, 0, 0, 1, 0, 0);
    octx.clearRect(0, 0, this.over.width, this.over.height);
    const f = this.frame;
    // Where image pixels are on screen, for tests that aim at them.
    Object.assign(this.over.dataset, { ready: String(!!f), scale: String(this.zoom), ox: String(this.panX), oy: String(this.panY) });
    if (!f) return;
    const z = this.zoom * dpr;
    ctx.setTransform(z, 0, 0, z, this.panX * dpr, this.panY * dpr);
    // Smooth when shrinking; show pixels as squares once they are big enough to see.
    ctx.imageSmoothingEnabled = this.zoom < 3;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(this.offscreen, 0, 0);
    this.base.dataset.zoom = this.zoom.toFixed(4);

    const { map, opacity, boxes } = this.overlay;
    if (map && map.width > 0 && opacity > 0) {
      octx.setTransform(z, 0, 0, z, this.panX * dpr, this.panY * dpr);
      octx.globalAlpha = opacity;
      octx.imageSmoothingEnabled = true;
      octx.drawImage(map, 0, 0, map.width, map.height, 0, 0, f.columns, f.rows);
      octx.globalAlpha = 1;
    }
    const outline = this.overlay.outline;
    if (outline?.length) {
      // In screen pixels, so the line stays 1.5 px wide at any zoom; a dark halo keeps it visible on bright tissue.
      octx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const path = new Path2D();
      for (let i = 0; i < outline.length; i += 4) {
        path.moveTo(this.panX + outline[i] * this.zoom, this.panY + outline[i + 1] * this.zoom);
        path.lineTo(this.panX + outline[i + 2] * this.zoom, this.panY + outline[i + 3] * this.zoom);
      }
      octx.lineCap = 'square';
      octx.lineWidth = 3;
      octx.strokeStyle = 'rgba(0,0,0,0.6)';
      octx.stroke(path);
      octx.lineWidth = 1.5;
      octx.strokeStyle = '#3ddc84';
      octx.stroke(path);
    }
    if (boxes.length) {
      octx.setTransform(dpr, 0, 0, dpr, 0, 0);
      octx.font = '600 12px system-ui, sans-serif';
      octx.textBaseline = 'bottom';
      for (const { box, score } of boxes) {
        const x0 = this.panX + box[0] * this.zoom;
        const y0 = this.panY + box[1] * this.zoom;
        const w = (box[2] - box[0]) * this.zoom;
        const h = (box[3] - box[1]) * this.zoom;
        octx.lineWidth = 2;
        octx.strokeStyle = 'rgba(0,0,0,0.7)';
        octx.strokeRect(x0, y0, w, h);
        octx.lineWidth = 1.5;
        octx.strokeStyle = '#ffd400';
        octx.strokeRect(x0, y0, w, h);
        const label = score.toFixed(2);
        const tw = octx.measureText(label).width + 8;
        // Inside a big box's top-left corner (clear of the corner annotations); above a small one,
        // unless that would leave the view.
        const ly = h >= 40 || y0 - 16 < 0 ? y0 + 16 : y0;
        octx.fillStyle = 'rgba(255,212,0,0.9)';
        octx.fillRect(x0, ly - 16, tw, 16);
        octx.fillStyle = '#111';
        octx.fillText(label, x0 + 4, ly - 2);
      }
    }
    if (this.overlay.draw) {
      octx.setTransform(dpr, 0, 0, dpr, 0, 0);
      this.overlay.draw(octx, this.getView());
    }
    this.over.dataset.overlay = map ? 'map' : 'none';
    this.over.dataset.boxes = String(boxes.length);
    this.over.dataset.outline = String((outline?.length ?? 0) / 4);
    const key = this.transformKey();
    if (key !== this.lastTransform) {
      this.lastTransform = key;
      this.cb.onTransform?.(this.getTransform());
    }
  }
}
