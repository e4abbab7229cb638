/** Window presets: the file's own windows first, then CT windows (in HU) where they make sense, then full range. */
import type { ImageSummary } from '../../../preload/contract.ts';
import { IDENTITY_8BIT, type VoiMode, fullRange } from './windowing.ts';

export interface Preset {
  label: string;
  mode: VoiMode;
}

const CT: [string, number, number][] = [
  ['Soft tissue', 40, 400],
  ['Lung', -600, 1500],
  ['Bone', 400, 1800],
  ['Brain', 40, 80],
  ['Abdomen', 60, 400],
  ['Liver', 90, 150],
  ['Mediastinum', 50, 350],
];

/** CT presets apply to CT, or to any image whose values look like Hounsfield units. */
function looksLikeCt(s: ImageSummary): boolean {
  return s.modality === 'CT' || (s.channels === 1 && s.valueRange.min <= -900 && s.valueRange.max >= 500);
}

export function presetsFor(s: ImageSummary, hasVoiLut: boolean): Preset[] {
  const out: Preset[] = [];
  s.windows.forEach((w, i) => {
    out.push({ label: w.explanation ? `${w.explanation}` : i === 0 ? 'File default' : `File window ${i + 1}`, mode: { kind: 'window', voi: { center: w.center, width: w.width } } });
  });
  if (hasVoiLut) out.push({ label: 'File VOI LUT', mode: { kind: 'lut' } });
  if (looksLikeCt(s)) for (const [label, center, width] of CT) out.push({ label, mode: { kind: 'window', voi: { center, width } } });
  out.push({ label: 'Full range', mode: { kind: 'window', voi: fullRange(s.channels === 3 ? { min: 0, max: 255 } : s.valueRange) } });
  return out;
}

/** A preset as a menu lists it: its name, and a window's width/level. */
export const presetLabel = (p: Preset): string => (p.mode.kind === 'window' ? `${p.label} (${Math.round(p.mode.voi.width)}/${Math.round(p.mode.voi.center)})` : p.label);

/** The window a view shows, in a few characters. */
export const voiLabel = (m: VoiMode): string => (m.kind === 'window' ? `W ${Math.round(m.voi.width)} L ${Math.round(m.voi.center)}` : 'VOI LUT');

/** The imaging layer marks a window it made up because the file had none. */
const COMPUTED = 'computed from the data';

/**
 * How an image first shows: the file's own window; else its VOI LUT when it has one (a file with only a
 * LUT means the LUT); else the window computed from the data.
 */
export function initialMode(s: ImageSummary, hasVoiLut = false): VoiMode {
  if (s.channels === 3) return { kind: 'window', voi: IDENTITY_8BIT };
  const w = s.windows[0];
  if (hasVoiLut && (!w || w.explanation === COMPUTED)) return { kind: 'lut' };
  if (w) return { kind: 'window', voi: { center: w.center, width: w.width } };
  return presetsFor(s, false).at(-1)!.mode;
}
