/** Form controls more than one panel shows. */
import { COLORMAPS, type ColormapName } from '../detector/colormaps.ts';

/** The colour map an overlay is drawn with. */
export function ColormapSelect({ value, onChange, testId }: { value: ColormapName; onChange(c: ColormapName): void; testId?: string }) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value as ColormapName)} data-testid={testId}>
      {COLORMAPS.map((c) => (
        <option key={c} value={c}>
          {c}
        </option>
      ))}
    </select>
  );
}
