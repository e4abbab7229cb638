// PLACEHOLDER: replaced by the review panel's owner.
import type { StudioApi } from '../../../preload/contract.ts';

export function ReviewPanel(_props: { api: StudioApi }) {
  return <div className="panel-placeholder">The review panel is not built yet.</div>;
}
