/** The keyboard and mouse reference, shown with H or ?. */
export const SHORTCUTS: [string, string][] = [
  ['Left drag', 'active tool (window/level: right = wider, up = brighter)'],
  ['Middle drag', 'pan'],
  ['Right drag', 'zoom'],
  ['Wheel', 'zoom about the cursor'],
  ['Shift + wheel', 'next / previous frame'],
  ['Double click', 'fit to window'],
  ['W / P / Z', 'tool: window/level, pan, zoom'],
  ['1 – 9', 'window presets (file windows first)'],
  ['F', 'fit to window'],
  ['A', 'actual size (1 image pixel : 1 screen pixel)'],
  ['+ / −', 'zoom in / out'],
  ['I', 'invert'],
  ['R', 'reset window and view'],
  ['↑ ↓ / PgUp PgDn', 'previous / next frame'],
  ['Home / End', 'first / last frame'],
  ['← →', 'previous / next image'],
  ['D', 'run the detector'],
  ['O', 'show / hide the overlay map'],
  ['B', 'show / hide boxes'],
  ['H or ?', 'this help'],
  ['Esc', 'close'],
];

export function HelpOverlay({ onClose }: { onClose(): void }) {
  return (
    <div className="help-backdrop" onClick={onClose} role="dialog" aria-label="Keyboard shortcuts" data-testid="help">
      <div className="help" onClick={(e) => e.stopPropagation()}>
        <div className="help-head">
          <h2>Keyboard and mouse</h2>
          <button type="button" onClick={onClose} aria-label="Close">
            ×
          </button>
        </div>
        <table>
          <tbody>
            {SHORTCUTS.map(([k, v]) => (
              <tr key={k}>
                <th>
                  <kbd>{k}</kbd>
                </th>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
