/** A small SVG line chart: several series over a shared x axis, optional log₂ x scale, a legend. */

export interface Series {
  name: string;
  colour: string;
  /** An SVG stroke-dasharray, so curves that coincide still show each other through their gaps. */
  dash?: string;
  points: { x: number; y: number }[];
}

export const PALETTE = ['#3ea6ff', '#ffd400', '#ff7a59', '#5ad17a', '#c58bff', '#ff6bb5', '#7fe3ff', '#e0e0e0'];

interface Props {
  series: Series[];
  width?: number;
  height?: number;
  xLabel: string;
  yLabel: string;
  /** Fixed y range; by default from the data (starting at 0). */
  yMax?: number;
  logX?: boolean;
  xTicks?: number[];
  ariaLabel: string;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return String(Math.round(v * 100) / 100);
  return String(Math.round(v * 1000) / 1000);
}

/** The smallest of 1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8 (× a power of ten) at or above v: its quarters, the y ticks, are round numbers. */
export function niceCeil(v: number): number {
  const k = 10 ** Math.floor(Math.log10(v));
  const m = [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10].find((f) => f * k >= v * (1 - 1e-9)) as number;
  return m * k;
}

/**
 * x ticks without xTicks: whole numbers (epochs) where the data spans more than one, at most ten of them,
 * else the data's own x values. A running curve has an x per step, and labelling each made them collide.
 */
export function linearTicks(xs: number[]): number[] {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (!(hi - lo >= 1)) return Array.from(new Set(xs)).sort((a, b) => a - b).filter((_, i, a) => a.length <= 10 || i % Math.ceil(a.length / 10) === 0);
  const step = Math.max(1, Math.ceil((Math.floor(hi) - Math.ceil(lo) + 1) / 10));
  const ticks: number[] = [];
  for (let x = Math.ceil(lo); x <= hi; x += step) ticks.push(x);
  return ticks;
}

export function LineChart({ series, width = 420, height = 220, xLabel, yLabel, yMax, logX = false, xTicks, ariaLabel }: Props) {
  const pad = { left: 44, right: 12, top: 10, bottom: 34 };
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0));
  const tx = (x: number) => (logX ? Math.log2(x) : x);
  const xs = all.map((p) => tx(p.x));
  const ticksX = xTicks ?? [];
  const x0 = Math.min(...xs, ...ticksX.map(tx), logX ? 0 : 0);
  const x1 = Math.max(...xs, ...ticksX.map(tx), x0 + 1);
  const top = yMax ?? niceCeil(Math.max(1e-6, ...all.map((p) => p.y)) * 1.05);
  const sx = (x: number) => pad.left + ((tx(x) - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y: number) => height - pad.bottom - (Math.max(0, Math.min(top, y)) / top) * (height - pad.top - pad.bottom);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const autoX = ticksX.length ? ticksX : linearTicks(all.map((p) => p.x));
  return (
    <figure className="chart">
      <svg width={width} height={height} role="img" aria-label={ariaLabel}>
        <rect x={pad.left} y={pad.top} width={width - pad.left - pad.right} height={height - pad.top - pad.bottom} className="chart-bg" />
        {yTicks.map((y) => (
          <g key={`y${y}`}>
            <line x1={pad.left} x2={width - pad.right} y1={sy(y)} y2={sy(y)} className="chart-grid" />
            <text x={pad.left - 6} y={sy(y) + 4} textAnchor="end" className="chart-tick">
              {fmt(y)}
            </text>
          </g>
        ))}
        {autoX.map((x) => (
          <text key={`x${x}`} x={sx(x)} y={height - pad.bottom + 14} textAnchor="middle" className="chart-tick">
            {fmt(x)}
          </text>
        ))}
        <text x={(width + pad.left) / 2} y={height - 4} textAnchor="middle" className="chart-label">
          {xLabel}
        </text>
        <text x={12} y={(height - pad.bottom) / 2} textAnchor="middle" transform={`rotate(-90 12 ${(height - pad.bottom) / 2})`} className="chart-label">
          {yLabel}
        </text>
        {series.map((s) => {
          const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0));
          if (pts.length === 0) return null;
          return (
            <g key={s.name}>
              <polyline points={pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')} fill="none" stroke={s.colour} strokeWidth={2} strokeDasharray={s.dash} />
              {pts.length <= 40 && pts.map((p, i) => <circle key={i} cx={sx(p.x)} cy={sy(p.y)} r={2.5} fill={s.colour} />)}
            </g>
          );
        })}
      </svg>
      <figcaption className="chart-legend">
        {series.map((s) => (
          <span key={s.name}>
            {s.dash ? (
              <svg width={18} height={6} aria-hidden="true" className="legend-line">
                <line x1={0} y1={3} x2={18} y2={3} stroke={s.colour} strokeWidth={2} strokeDasharray={s.dash} />
              </svg>
            ) : (
              <i style={{ background: s.colour }} />
            )}{' '}
            {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
