// PLACEHOLDER: replaced by the training panel's owner.
import type { StudioApi } from '../../../preload/contract.ts';

export function TrainingPanel(_props: { api: StudioApi }) {
  return <div className="panel-placeholder">The training panel is not built yet.</div>;
}
