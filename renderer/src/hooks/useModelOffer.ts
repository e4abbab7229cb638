/**
 * Which model the viewer offers for the open image, checked by the models themselves before any run.
 * Cards alone say which models are for this kind of image (preload/fit.ts rankModels); a CT saved as PNG
 * or a colour photograph of something else passes that. So, where no model was picked by hand, the fitting
 * models are asked in their order for their appearance score (`detector.appearance`), and the first that
 * knows images like this one is offered; when none does, the first is, and its warning shows before a run.
 * A model picked by hand is asked too, so its warning also shows before a run.
 */
import { useEffect, useRef, useState } from 'react';
import type { AppearanceCheck, FlipSet, StudioApi } from '../../../preload/contract.ts';

export interface ModelOffer {
  /** The model to use when none was picked by hand; undefined until the checks have answered. */
  offered?: string;
  /** The checks answered so far for this image, frame and averaging, by model. */
  checks: ReadonlyMap<string, AppearanceCheck>;
  /** Models asked and found not to know images like this one, ahead of the offered one. */
  passedOver: string[];
  /** Set when every model asked warned: switching among them would not help. */
  noneKnows?: string[];
  checking: boolean;
  /** A check that failed (the model could not load, say): said, and the next model asked. */
  error?: string;
}

export interface OfferTarget {
  imageId: string;
  frame: number;
}

const NONE: ModelOffer = { checks: new Map(), passedOver: [], checking: false };
const CHECKING: ModelOffer = { checks: new Map(), passedOver: [], checking: true };

/**
 * The offer among `candidates` (in the order to try them): each is asked in turn, and the first whose
 * check carries no warning is offered; when every one warns (or fails), the first is. Undefined when `live`
 * turns false on the way (the viewer moved on).
 */
export async function offerAmong(candidates: readonly string[], ask: (model: string) => Promise<AppearanceCheck | Error>, live: () => boolean = () => true): Promise<ModelOffer | undefined> {
  const checks = new Map<string, AppearanceCheck>();
  const passedOver: string[] = [];
  let error: string | undefined;
  for (const model of candidates) {
    const answer = await ask(model);
    if (!live()) return undefined;
    if (answer instanceof Error) {
      error = `${model}: ${answer.message}`;
      continue;
    }
    checks.set(model, answer);
    if (!answer.mismatch) return { offered: model, checks, passedOver, checking: false, error };
    passedOver.push(model);
  }
  // None knows images like this one: the first is offered still, and its warning says why to doubt it.
  return { offered: candidates[0], checks, passedOver: [], ...(checks.size ? { noneKnows: [...checks.keys()] } : {}), checking: false, error };
}

export function useModelOffer(api: StudioApi, target: OfferTarget | null, ranked: readonly string[], picked: string | null, flips: FlipSet | 'card'): ModelOffer {
  // The offer for the key it was made for: a new image, frame, averaging or model list reads as checking
  // until its own answer comes.
  const [made, setMade] = useState<{ key: string; offer: ModelOffer }>({ key: '', offer: NONE });
  // Answers by image, frame, averaging and model: going back to an image, or picking a model already asked,
  // asks the worker nothing. A few hundred entries of a few numbers each.
  const answers = useRef(new Map<string, AppearanceCheck | Error>());
  const candidates = picked ? [picked] : [...ranked];
  const key = target && candidates.length ? `${target.imageId}\0${target.frame}\0${flips}\0${candidates.join('\0')}` : '';

  useEffect(() => {
    if (!target || !key) return;
    let live = true;
    const ask = async (model: string): Promise<AppearanceCheck | Error> => {
      const k = `${target.imageId}\0${target.frame}\0${flips}\0${model}`;
      const known = answers.current.get(k);
      if (known) return known;
      let answer: AppearanceCheck | Error;
      try {
        answer = await api['detector.appearance']({ imageId: target.imageId, frame: target.frame, model, ...(flips === 'card' ? {} : { flips }) });
      } catch (err) {
        answer = err instanceof Error ? err : new Error(String(err));
      }
      if (answers.current.size > 500) answers.current.clear();
      answers.current.set(k, answer);
      return answer;
    };
    void offerAmong(candidates, ask, () => live).then((offer) => {
      if (offer) setMade({ key, offer });
    });
    return () => {
      live = false;
    };
    // `key` stands for target, flips and candidates: they are rebuilt on every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, key]);

  return !key ? NONE : made.key === key ? made.offer : CHECKING;
}
