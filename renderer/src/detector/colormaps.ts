/**
 * Colour maps for overlays, as 256-entry RGB tables, and the colourisation of a Map2D into an RGBA
 * canvas the viewport stretches over the image. Opacity is applied when drawing (globalAlpha), so moving
 * the opacity slider never recolours.
 */
import type { Map2D } from '../../../preload/contract.ts';

export const COLORMAPS = ['jet', 'viridis', 'hot', 'inferno', 'grey'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

type Stop = [number, number, number, number];

// Control points sampled from matplotlib's perceptually uniform maps; linear in between is close enough
// for a display overlay.
const VIRIDIS: Stop[] = [
  [0, 68, 1, 84], [0.13, 71, 44, 122], [0.25, 59, 81, 139], [0.38, 44, 113, 142], [0.5, 33, 144, 141],
  [0.63, 39, 173, 129], [0.75, 92, 200, 99], [0.88, 170, 220, 50], [1, 253, 231, 37],
];
const INFERNO: Stop[] = [
  [0, 0, 0, 4], [0.13, 31, 12, 72], [0.25, 85, 15, 109], [0.38, 136, 34, 106], [0.5, 186, 54, 85],
  [0.63, 227, 89, 51], [0.75, 249, 140, 10], [0.88, 249, 201, 50], [1, 252, 255, 164],
];

function fromStops(stops: Stop[]): Uint8Array {
  const t = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let s = 0;
    while (s < stops.length - 2 && stops[s + 1][0] < x) s++;
    const [x0, r0, g0, b0] = stops[s];
    const [x1, r1, g1, b1] = stops[s + 1];
    const f = Math.min(1, Math.max(0, (x - x0) / (x1 - x0)));
    t[i * 3] = Math.round(r0 + (r1 - r0) * f);
    t[i * 3 + 1] = Math.round(g0 + (g1 - g0) * f);
    t[i * 3 + 2] = Math.round(b0 + (b1 - b0) * f);
  }
  return t;
}

function fromFunction(fn: (x: number) => [number, number, number]): Uint8Array {
  const t = new Uint8Array(256 * 3);
  const c = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = fn(i / 255);
    t[i * 3] = c(r);
    t[i * 3 + 1] = c(g);
    t[i * 3 + 2] = c(b);
  }
  return t;
}

const TABLES: Record<ColormapName, Uint8Array> = {
  jet: fromFunction((x) => [1.5 - Math.abs(4 * x - 3), 1.5 - Math.abs(4 * x - 2), 1.5 - Math.abs(4 * x - 1)]),
  viridis: fromStops(VIRIDIS),
  hot: fromFunction((x) => [x * 3, x * 3 - 1, x * 3 - 2]),
  inferno: fromStops(INFERNO),
  grey: fromFunction((x) => [x, x, x]),
};

export function colormapTable(name: ColormapName): Uint8Array {
  return TABLES[name] ?? TABLES.jet;
}

/** CSS gradient for the legend bar, left (low) to right (high). */
export function colormapGradient(name: ColormapName): string {
  const t = colormapTable(name);
  const stops: string[] = [];
  for (let i = 0; i <= 8; i++) {
    const j = Math.round((i / 8) * 255) * 3;
    stops.push(`rgb(${t[j]}, ${t[j + 1]}, ${t[j + 2]}) ${(i / 8) * 100}%`);
  }
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

export interface MapRange {
  lo: number;
  hi: number;
}

/** Range used to colour a map: probabilities keep 0..1 so maps compare; others span their own values. */
export function mapRange(map: Map2D, probability: boolean): MapRange {
  if (probability) return { lo: 0, hi: 1 };
  let lo = Infinity;
  let hi = -Infinity;
  const d = map.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return { lo: 0, hi: 1 };
  return hi > lo ? { lo, hi } : { lo, hi: lo + 1 };
}

/**
 * The map as an RGBA canvas at the map's own size. Values below `floor` (as a fraction of the range) are
 * transparent, and alpha then fades in up to `ramp`, so a near-zero heatmap does not tint the whole image:
 * on real images a hard cut left most of the tissue under a saturated blue haze with blocky edges, hiding
 * the anatomy a reader needs to judge the finding.
 */
export function colorize(map: Map2D, name: ColormapName, range: MapRange, floor = 0.02, ramp = 0.25): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = map.width;
  canvas.height = map.height;
  const ctx = canvas.getContext('2d');
  if (!ctx || map.width === 0 || map.height === 0) return canvas;
  const img = ctx.createImageData(map.width, map.height);
  const px = img.data;
  const t = colormapTable(name);
  const scale = 255 / (range.hi - range.lo);
  const d = map.data;
  for (let i = 0, o = 0; i < d.length; i++, o += 4) {
    let v = (d[i] - range.lo) * scale;
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    const j = (v | 0) * 3;
    px[o] = t[j];
    px[o + 1] = t[j + 1];
    px[o + 2] = t[j + 2];
    px[o + 3] = v < floor * 255 ? 0 : v >= ramp * 255 ? 255 : Math.max(1, Math.round((v / (ramp * 255)) * 255));
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}
