/** Number and duration formats shared by the panels; a missing or non-finite value shows as '–'. */

export const fixed = (v: number | undefined, digits = 3): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** A duration to the second under an hour (an ETA: "4:05"), to the minute above ("1 h 12 min"). */
export function clock(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec)) return '–';
  // Rounded once, so 59.6 s reads 1:00 and not 0:60.
  const whole = Math.round(sec);
  const m = Math.floor(whole / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m}:${String(whole % 60).padStart(2, '0')}`;
}

/** A long duration to the minute ("47 min", "1 h 12 min"). */
export function minutes(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec)) return '–';
  const m = Math.round(sec / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}
