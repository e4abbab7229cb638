/**
 * What a model card (card.json, written by `studio train` and `studio evaluate`) says about a model, in
 * the terms the Compare view shows: its test-split metrics as recorded, and how it was trained. Cards are
 * data from disk, so every field is read defensively: a missing one shows as unknown, never as a crash.
 */
import { FLIP_VIEWS, hasSpatialGates, type FlipSet } from '../../../preload/contract.ts';

export interface CardSummary {
  /** Test-split metrics recorded by `studio evaluate`, when the card has them. */
  test?: { images: number; dice: number; sensitivity1FP: number; ap50: number; pointingGame: number; pointingGameImages: number; pointingSource: string };
  /** Epochs in all, counting the base models a fine-tune started from. */
  epochs?: number;
  /** Training seconds in all, likewise. */
  seconds?: number;
  /** False when a base model is named without its own training record: then epochs and seconds are lower bounds. */
  complete: boolean;
  backend?: string;
  data?: string;
  /** 'supervised by the mask (decoder/cbam_spatial8, weight 0.5)', 'unsupervised', or 'none' (no spatial gate). */
  attention: string;
  /** Mirrored views each prediction averaged in the recorded test metrics (else the card's flips): 1, 2 or 4. */
  views: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Sum a field down the chain of base models (`hyperparameters.baseTraining`, each with its own `baseTraining`). */
function total(card: Json, field: 'epochs' | 'seconds'): number | undefined {
  let sum = num(obj(card.training)?.[field]);
  if (sum === undefined) return undefined;
  let base = obj(obj(card.hyperparameters)?.baseTraining);
  for (let depth = 0; base && depth < 32; depth++) {
    const v = num(base[field]);
    if (v === undefined) return undefined;
    sum += v;
    base = obj(base.baseTraining);
  }
  return sum;
}

/** Whether every base model in the chain comes with its training record. */
function lineageComplete(card: Json): boolean {
  let node: Json | undefined = obj(card.hyperparameters) ?? {};
  for (let depth = 0; node && depth < 32; depth++) {
    if (node.base === undefined) return true;
    node = obj(node.baseTraining);
    if (!node || node.unknown !== undefined) return false;
  }
  return false;
}

export function summariseCard(variant: string, card: Json): CardSummary {
  const t = obj(obj(card.metrics)?.test);
  const test =
    t && num(t.dice) !== undefined
      ? {
          images: num(t.images) ?? 0,
          dice: num(t.dice) as number,
          sensitivity1FP: num(t.sensitivity1FP) ?? num((Array.isArray(t.froc) ? (t.froc as Json[]) : []).find((p) => p.fpPerImage === 1)?.sensitivity) ?? NaN,
          ap50: num(t.ap50) ?? NaN,
          pointingGame: num(t.pointingGame) ?? NaN,
          pointingGameImages: num(t.pointingGameImages) ?? NaN,
          pointingSource: typeof t.pointingSource === 'string' ? t.pointingSource : '',
        }
      : undefined;
  const supervision = obj(obj(card.hyperparameters)?.attentionSupervision);
  const gated = hasSpatialGates(variant);
  const attention = !gated
    ? 'none'
    : supervision && typeof supervision.layer === 'string'
      ? `supervised by the mask (${supervision.layer}, weight ${num(supervision.weight) ?? '?'})`
      : 'unsupervised';
  const data = obj(card.data)?.path;
  return {
    test,
    epochs: total(card, 'epochs'),
    seconds: total(card, 'seconds'),
    complete: lineageComplete(card),
    backend: typeof card.backend === 'string' ? card.backend : undefined,
    data: typeof data === 'string' ? data : undefined,
    attention,
    views: FLIP_VIEWS[String(t?.flips ?? card.flips ?? 'none') as FlipSet] ?? 1,
  };
}
