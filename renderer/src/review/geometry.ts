/** Image ↔ screen mapping and box editing for the review canvas. Pure, so it is unit-tested in Node. */
export type Box = [number, number, number, number];

/** screen = image * scale + offset */
export interface View {
  scale: number;
  ox: number;
  oy: number;
}

/** Fit the image into the canvas, centred, with a margin. */
export function fitView(imageW: number, imageH: number, canvasW: number, canvasH: number, margin = 12): View {
  const scale = Math.max(1e-6, Math.min((canvasW - 2 * margin) / imageW, (canvasH - 2 * margin) / imageH));
  return { scale, ox: (canvasW - imageW * scale) / 2, oy: (canvasH - imageH * scale) / 2 };
}

export const toImage = (v: View, sx: number, sy: number): [number, number] => [(sx - v.ox) / v.scale, (sy - v.oy) / v.scale];
export const toScreen = (v: View, x: number, y: number): [number, number] => [x * v.scale + v.ox, y * v.scale + v.oy];

export type Handle = 'nw' | 'n' | 'ne' | 'e' | 'se' | 's' | 'sw' | 'w' | 'move';

/** The 8 handle positions of a box in image coordinates. */
export function handlePoints(box: Box): [Exclude<Handle, 'move'>, number, number][] {
  const [x0, y0, x1, y1] = box;
  const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
  return [['nw', x0, y0], ['n', mx, y0], ['ne', x1, y0], ['e', x1, my], ['se', x1, y1], ['s', mx, y1], ['sw', x0, y1], ['w', x0, my]];
}

/** Which handle (or the body, to move it) is under the screen point, within `tol` screen pixels. */
export function hitHandle(box: Box, v: View, sx: number, sy: number, tol = 7): Handle | null {
  for (const [h, x, y] of handlePoints(box)) {
    const [hx, hy] = toScreen(v, x, y);
    if (Math.abs(hx - sx) <= tol && Math.abs(hy - sy) <= tol) return h;
  }
  const [ix, iy] = toImage(v, sx, sy);
  return ix >= box[0] && ix <= box[2] && iy >= box[1] && iy <= box[3] ? 'move' : null;
}

/** Orders, rounds to whole pixels and clamps a box to the image; null if it has no area. */
export function normBox(ax: number, ay: number, bx: number, by: number, w: number, h: number): Box | null {
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, Math.round(v)));
  const x0 = clamp(Math.min(ax, bx), w), x1 = clamp(Math.max(ax, bx), w);
  const y0 = clamp(Math.min(ay, by), h), y1 = clamp(Math.max(ay, by), h);
  return x1 > x0 && y1 > y0 ? [x0, y0, x1, y1] : null;
}

/** The box after dragging `handle` by (dx, dy) image pixels; a move keeps its size inside the image. */
export function dragBox(box: Box, handle: Handle, dx: number, dy: number, w: number, h: number): Box {
  let [x0, y0, x1, y1] = box;
  if (handle === 'move') {
    const mdx = Math.min(Math.max(dx, -x0), w - x1);
    const mdy = Math.min(Math.max(dy, -y0), h - y1);
    return [Math.round(x0 + mdx), Math.round(y0 + mdy), Math.round(x1 + mdx), Math.round(y1 + mdy)];
  }
  if (handle.includes('w')) x0 += dx;
  if (handle.includes('e')) x1 += dx;
  if (handle.includes('n')) y0 += dy;
  if (handle.includes('s')) y1 += dy;
  return normBox(x0, y0, x1, y1, w, h) ?? box;
}

/** The finding under a screen point: the smallest box containing it, so nested boxes stay reachable. */
export function boxAt<T extends { box: Box }>(items: T[], v: View, sx: number, sy: number): T | null {
  const [x, y] = toImage(v, sx, sy);
  let best: T | null = null;
  let bestArea = Infinity;
  for (const it of items) {
    const [x0, y0, x1, y1] = it.box;
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) {
      const a = (x1 - x0) * (y1 - y0);
      if (a < bestArea) {
        best = it;
        bestArea = a;
      }
    }
  }
  return best;
}
