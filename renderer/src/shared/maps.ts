/**
 * Which map a view lays over the image, in one encoding for the viewer and side by side (a <select>'s
 * value), and the one rule that finds it in a result:
 * - `none`, `heatmap` (lesion probability), `gradcam`;
 * - `attention:<layer name>`: one of this result's attention maps (the viewer lists them all);
 * - by role, which each model's result answers for itself (side by side): `supervised` (the gate training
 *   fitted to the lesion mask, else the spatial gate nearest the output), `stage:<k>`, `nonlocal`.
 * Roles read each map's `stage` and `supervised`, which the detector sets: no layer name is parsed here.
 */
import type { AttentionMap, DetectionResult, GradCamResult, Map2D } from '../../../preload/contract.ts';
import { type Job, latest } from './jobs.ts';

export type MapLayer = 'none' | 'heatmap' | 'gradcam' | 'supervised' | 'nonlocal' | `stage:${number}` | `attention:${string}`;

export interface DrawnMap {
  map: Map2D;
  /** A probability map is coloured over [0, 1]; the others over their own range. */
  probability: boolean;
  label: string;
}

/** A map to draw, why this view has none (a note to show), or nothing to say. */
export type MapChoice = DrawnMap | { note: string } | null;

export const attentionLabel = (a: Pick<AttentionMap, 'name' | 'supervised'>): string => `Attention · ${a.name}${a.supervised ? ' (supervised)' : ''}`;

const drawn = (a: AttentionMap): DrawnMap => ({ map: a.map, probability: false, label: attentionLabel(a) });

/** The map training supervised, else the spatial gate nearest the output (a model trained without supervision). */
export function supervisedGate(result: Pick<DetectionResult, 'attention'>): AttentionMap | undefined {
  const spatial = result.attention.filter((a) => a.kind === 'spatial');
  return spatial.find((a) => a.supervised) ?? spatial.at(-1);
}

/** The backbone stages with a spatial map, in order (the decoder's gate is reached as the supervised one). */
export function spatialStages(result: Pick<DetectionResult, 'attention'>): number[] {
  return result.attention.flatMap((a) => (a.kind === 'spatial' && typeof a.stage === 'number' ? [a.stage] : []));
}

/**
 * What to draw for `layer`. `result` is the detection to read (none yet: nothing to say), `cam` the
 * Grad-CAM job for the same image, frame and model; `variant` names what a model lacks.
 */
export function chooseMap(layer: MapLayer, result: DetectionResult | undefined, cam: Job<GradCamResult> | undefined, variant?: string): MapChoice {
  if (layer === 'none') return null;
  if (layer === 'gradcam') {
    const value = latest(cam);
    if (value) return { map: value.map, probability: false, label: `Grad-CAM · ${value.layer}` };
    if (!cam) return { note: 'Grad-CAM not computed yet' };
    return cam.state === 'error' ? { note: `Grad-CAM failed: ${cam.error}` } : { note: 'Computing Grad-CAM…' };
  }
  if (!result) return null;
  if (layer === 'heatmap') return { map: result.heatmap, probability: true, label: 'Lesion probability' };
  if (layer.startsWith('attention:')) {
    const a = result.attention.find((x) => `attention:${x.name}` === layer);
    return a ? drawn(a) : null;
  }
  const v = result.variant ?? variant;
  const none = v === 'baseline' ? 'baseline: no attention module' : v === 'se' ? 'se: channel attention only, no spatial map' : null;
  if (layer === 'supervised') {
    const a = supervisedGate(result);
    return a ? drawn(a) : { note: none ?? `${v}: no spatial attention map` };
  }
  if (layer === 'nonlocal') {
    const a = result.attention.find((x) => x.kind === 'nonlocal');
    return a ? drawn(a) : { note: v === 'baseline' ? none! : `${v}: no non-local attention` };
  }
  const stage = Number(layer.slice('stage:'.length));
  const a = result.attention.find((x) => x.kind === 'spatial' && x.stage === stage);
  return a ? drawn(a) : { note: none ?? `${v}: no spatial attention at stage ${stage}` };
}
