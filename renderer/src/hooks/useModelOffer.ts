/**
 * Which model the viewer offers for the open image, checked by the models themselves before any run.
 * Cards alone say which models are for this kind of image (preload/fit.ts rankModels); a CT saved as PNG
 * or a colour photograph of something else passes that. So, where no model was picked by hand, the fitting
 * models are asked in their order for their appearance score (`detector.appearance`), and the first that
 * knows images like this one is offered; when none does, the first is, and its warning shows before a run.
 * A model picked by hand is asked too, so its warning also shows before a run.
 *
 * The check is per image (its first frame), not per frame: stepping through a clip asks the one inference
 * worker nothing, and a model's verdict on a series does not change from slice to slice.
 */
import { useEffect, useMemo, useState } from 'react';
import type { AppearanceCheck, FlipSet, StudioApi } from '../../../preload/contract.ts';

export interface ModelOffer {
  /** The model to use when none was picked by hand; undefined until the first checks have answered. */
  offered?: string;
  /** The checks answered for this image and averaging, by model. */
  checks: ReadonlyMap<string, AppearanceCheck>;
  /** Models asked and found not to know images like this one, ahead of the offered one. */
  passedOver: string[];
  /** Set when every model asked warned: switching among them would not help. */
  noneKnows?: string[];
  /** True while a check for the current image and averaging is on its way (an earlier offer for the image may still show). */
  checking: boolean;
  /** A check that failed (the model could not load, say): said, and the next model asked. */
  error?: string;
}

/** At most this many models are asked for one image: each is a network the worker loads and runs. */
export const MAX_MODELS_ASKED = 4;
/** Opening images in quick succession asks only for the one the reader stops at. */
const SETTLE_MS = 150;

const NONE: ModelOffer = { checks: new Map(), passedOver: [], checking: false };
const CHECKING: ModelOffer = { checks: new Map(), passedOver: [], checking: true };

/**
 * The offer among `candidates` (in the order to try them, at most MAX_MODELS_ASKED): each is asked in turn,
 * and the first that scored the image and knows it is offered. A model without appearance statistics cannot
 * say either way: it is offered only when no asked model knows the image. When every model warns (or
 * fails), the first that answered is offered with its warning, else the first. Undefined when `live` turns
 * false on the way (the viewer moved on).
 */
export async function offerAmong(candidates: readonly string[], ask: (model: string) => Promise<AppearanceCheck | Error>, live: () => boolean = () => true): Promise<ModelOffer | undefined> {
  const asked = candidates.slice(0, MAX_MODELS_ASKED);
  const checks = new Map<string, AppearanceCheck>();
  const passedOver: string[] = [];
  let unscored: string | undefined;
  let error: string | undefined;
  for (const model of asked) {
    const answer = await ask(model);
    if (!live()) return undefined;
    if (answer instanceof Error) {
      error = `${model}: ${answer.message}`;
      continue;
    }
    checks.set(model, answer);
    if (answer.mismatch) passedOver.push(model);
    else if (!answer.appearance) unscored ??= model;
    else return { offered: model, checks, passedOver, checking: false, error };
  }
  if (unscored) return { offered: unscored, checks, passedOver: passedOver.filter((m) => asked.indexOf(m) < asked.indexOf(unscored as string)), checking: false, error };
  // None knows images like this one: the first that answered is offered still, and its warning says why to doubt it.
  const first = asked.find((m) => checks.has(m)) ?? asked[0];
  return { offered: first, checks, passedOver: [], ...(checks.size ? { noneKnows: [...checks.keys()] } : {}), checking: false, error };
}

/**
 * The answers kept for the viewer's checks, by image, averaging and model: kept as promises so a check on
 * its way is never asked twice. A failure is not kept (a model being written, a worker restarting: the next
 * look asks again), and a new model list (a refresh, a model trained) forgets every answer.
 */
export class OfferAnswers {
  private models: unknown;
  private byKey = new Map<string, Promise<AppearanceCheck | Error>>();

  constructor(
    private readonly check: (imageId: string, model: string, flips: FlipSet | 'card') => Promise<AppearanceCheck>,
    private readonly bound = 500,
  ) {}

  /** Forget every answer when `models` is another list than the last one seen. */
  forModels(models: unknown): this {
    if (models !== this.models) {
      this.models = models;
      this.byKey = new Map();
    }
    return this;
  }

  ask(imageId: string, flips: FlipSet | 'card', model: string): Promise<AppearanceCheck | Error> {
    const byKey = this.byKey;
    const k = `${imageId}\0${flips}\0${model}`;
    let answer = byKey.get(k);
    if (!answer) {
      answer = this.check(imageId, model, flips).catch((err: unknown) => {
        if (byKey.get(k) === answer) byKey.delete(k);
        return err instanceof Error ? err : new Error(String(err));
      });
      // A reader paging through thousands of images: keep memory bounded, at the cost of asking again.
      if (byKey.size >= this.bound) byKey.clear();
      byKey.set(k, answer);
    }
    return answer;
  }
}

/** The offer made last, for which image and which question (image, averaging and candidates). */
export interface MadeOffer {
  key: string;
  imageId: string;
  offer: ModelOffer;
}

/**
 * What the viewer shows for the question `key` about `imageId`: the offer made for it; while it is being
 * asked again for the same image (another averaging, a refreshed list), the last offer for the image, marked
 * checking; for another image, nothing yet but "checking".
 */
export function shownOffer(made: MadeOffer | null, key: string, imageId: string | null): ModelOffer {
  if (!key) return NONE;
  if (made?.key === key) return made.offer;
  return made?.imageId === imageId ? { ...made.offer, checking: true } : CHECKING;
}

/**
 * @param imageId the open image, or null
 * @param ranked the models whose card fits it, in rankModels order
 * @param picked a model picked by hand (only it is asked), or null
 * @param models the model list: a new list (a refresh, a model trained) forgets the answers kept
 */
export function useModelOffer(api: StudioApi, imageId: string | null, ranked: readonly string[], picked: string | null, flips: FlipSet | 'card', models: unknown): ModelOffer {
  const [made, setMade] = useState<MadeOffer | null>(null);
  // Answers are the api's: another api (a reconnected host) starts a store of its own. (A store React drops
  // from its memo only asks again.)
  const answers = useMemo(() => new OfferAnswers((id, model, f) => api['detector.appearance']({ imageId: id, frame: 0, model, ...(f === 'card' ? {} : { flips: f }) })), [api]);
  const candidates = picked ? [picked] : ranked.slice(0, MAX_MODELS_ASKED);
  const key = imageId && candidates.length ? `${imageId}\0${flips}\0${candidates.join('\0')}` : '';

  useEffect(() => {
    if (!imageId || !key) return;
    const kept = answers.forModels(models);
    let live = true;
    const timer = setTimeout(() => {
      void offerAmong(candidates, (model) => kept.ask(imageId, flips, model), () => live).then((offer) => {
        if (offer) setMade({ key, imageId, offer });
      });
    }, SETTLE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // `key` stands for the image, flips and candidates (rebuilt on every render); `models` resets the answers.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [answers, key, models]);

  return shownOffer(made, key, imageId);
}
