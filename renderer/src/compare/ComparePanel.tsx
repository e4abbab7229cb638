// PLACEHOLDER: replaced by the compare panel's owner.
import type { StudioApi } from '../../../preload/contract.ts';

export function ComparePanel(_props: { api: StudioApi }) {
  return <div className="panel-placeholder">The compare panel is not built yet.</div>;
}
