/**
 * Whether an image is the kind a model is for (its card's intendedUse): one rule for the engine (main,
 * which checks every image it runs), batch analysis, and the viewer (which suggests a model that fits the
 * open image). It uses what the image declares (DICOM Modality) and what its pixels show (colour or grey).
 * Pure: no DOM, no node.
 */
import { MAX_FP_PER_NEGATIVE, type ImageSummary, type IntendedUse } from './contract.ts';

/** What the rule needs to know of an image. */
export interface ImageFacts {
  kind: 'dicom' | 'raster';
  modality?: string;
  /** Mean spread between the colour channels of its pixels, in grey levels (`colourfulness`). */
  colourSpread: number;
}

/** DICOM Modality codes in words, for the warnings (PS3.3 C.7.3.1.1.1). */
const MODALITY_WORDS: Readonly<Record<string, string>> = {
  CT: 'a CT',
  MR: 'an MR image',
  CR: 'a radiograph (CR)',
  DX: 'a radiograph (DX)',
  MG: 'a mammogram',
  US: 'an ultrasound image',
  ES: 'an endoscopy image',
  XC: 'an external camera photograph',
  OT: 'an image of modality OT (other)',
  PT: 'a PET image',
  NM: 'a nuclear medicine image',
  XA: 'an X-ray angiogram',
  SM: 'a slide microscopy image',
  OP: 'an ophthalmic photograph',
};

/**
 * Mean spread max(R,G,B) − min(R,G,B) over (a sample of at most 64 K of) the pixels of interleaved data
 * with `stride` bytes per pixel (3 for RGB, 4 for RGBA): how far the colour channels part.
 */
export function colourfulness(data: ArrayLike<number>, stride: 3 | 4 = 3): number {
  const pixels = Math.floor(data.length / stride);
  const step = Math.max(1, Math.floor(pixels / 65536));
  let sum = 0;
  let n = 0;
  for (let i = 0; i < pixels; i += step) {
    const r = data[i * stride];
    const g = data[i * stride + 1];
    const b = data[i * stride + 2];
    sum += Math.max(r, g, b) - Math.min(r, g, b);
    n++;
  }
  return n ? sum / n : 0;
}

/**
 * Below this mean spread an image is greyscale in all but its file format. Measured on the reference data:
 * colonoscopy frames (Kvasir-SEG, HyperKvasir) spread 33–137 levels, every BUSI ultrasound image under 1.5
 * (the RGB ones included); JPEG's chroma noise on a grey scan adds a few at most.
 */
export const GREY_SPREAD = 6;

/**
 * Why `image` is not the kind `use` describes, or undefined when it is (or the card does not say). The
 * reason names the model and what the image is instead, so it can be shown as it is.
 */
export function mismatch(model: string, use: IntendedUse | undefined, image: ImageFacts): string | undefined {
  if (!use) return undefined;
  const intended = `${model} is a model for ${use.images}`;
  const modality = image.modality?.trim().toUpperCase();
  if (image.kind === 'dicom' && modality && !use.modalities.includes(modality)) {
    return `${intended}; this image is ${MODALITY_WORDS[modality] ?? `of modality ${modality}`}, so its findings here mean nothing`;
  }
  if (use.colour === 'colour' && image.colourSpread < GREY_SPREAD) return `${intended}; this image is greyscale, so its findings here mean nothing`;
  if (use.colour === 'grey' && image.colourSpread >= GREY_SPREAD) return `${intended}; this image is in colour, so its findings here mean nothing`;
  return undefined;
}

/**
 * The appearance rule: a score above the card's threshold, or one that is not a number (a network answering
 * NaN is no evidence the image fits). The warning, the viewer's chip and evaluation's unfamiliar share all
 * read it here.
 */
export function isUnfamiliar(appearance: { score: number; threshold: number }): boolean {
  return !(Number.isFinite(appearance.score) && appearance.score <= appearance.threshold);
}

/**
 * Why the model's own features say `image` is not like its training images (its appearance score above
 * the threshold its card calibrated), or undefined when they do not say so or the model has no statistics.
 * This catches what the declared facts cannot: a CT saved as PNG shown to an ultrasound model, a colour
 * photograph of something else shown to a colonoscopy model.
 */
export function unfamiliar(model: string, use: IntendedUse | undefined, appearance: { score: number; threshold: number } | undefined): string | undefined {
  if (!appearance || !isUnfamiliar(appearance)) return undefined;
  const { score, threshold } = appearance;
  const kind = use ? `, a model for ${use.images},` : '';
  if (!Number.isFinite(score)) return `${model}${kind} could not score how like its training images this one is, so its findings here cannot be trusted`;
  // Two decimals unless they would read equal: never "1.43, above the 1.43".
  const digits = score.toFixed(2) === threshold.toFixed(2) ? 3 : 2;
  return `${model}${kind} has not seen images like this one: its appearance score is ${score.toFixed(digits)}, above the ${threshold.toFixed(digits)} its own held-out images stay under, so its findings here mean little`;
}

/** What the viewer's suggestion reads of a card: its stated use, its site verdict, its held-out figures. */
export interface SuggestableCard {
  intendedUse?: IntendedUse;
  site?: { better: boolean };
  metrics?: {
    test?: {
      negatives?: number;
      fpPerNegativeImage?: number | null;
      sensitivity1FP?: number;
      renderings?: Record<string, { sensitivity1FP: number; fpPerNegativeImage: number | null }>;
    };
  };
}

/**
 * A card's held-out findings per lesion-free frame and sensitivity at 1 FP/image: the means over its test
 * images as recorded and as other cameras render them (`studio evaluate --renderings`) where the card has
 * those, so a model that holds only on its own hospital's rendering does not rank first; else as recorded.
 */
export function heldOutFigures(card: SuggestableCard): { fpPerNegativeImage?: number; sensitivity1FP?: number } {
  const test = card.metrics?.test;
  if (!test) return {};
  const views = [test, ...Object.values(test.renderings ?? {})];
  const mean = (xs: number[]) => (xs.length === views.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  return {
    fpPerNegativeImage: test.negatives ? mean(views.flatMap((v) => (typeof v.fpPerNegativeImage === 'number' ? [v.fpPerNegativeImage] : []))) : undefined,
    sensitivity1FP: mean(views.flatMap((v) => (typeof v.sensitivity1FP === 'number' ? [v.sensitivity1FP] : []))),
  };
}

/**
 * How a model did on lesion-free images it never trained on, per its card (`heldOutFigures`): 0 quiet
 * (within MAX_FP_PER_NEGATIVE findings per frame), 1 measured and louder (ordered by how loud), 2 never
 * measured. A model known to alarm on most normal frames is the issue a reader meets first; a model never
 * measured is put after one measured loud, since every measured model trained without such images was loud.
 */
function quietness(card: SuggestableCard): [number, number] {
  const fp = heldOutFigures(card).fpPerNegativeImage;
  if (fp === undefined) return [2, 0];
  return fp <= MAX_FP_PER_NEGATIVE + 1e-9 ? [0, 0] : [1, fp];
}

/**
 * The models whose card says the image is their kind, in the order the viewer offers them: a model adapted
 * to this site that beat its base on the site's held-out images first and one that did not last (kept for
 * comparison, not offered); between them, models whose held-out figures show them quiet on lesion-free
 * frames, then those measured louder, then those never measured; within each, the more sensitive on its
 * held-out split, then the list's order. Held-out figures average in other cameras' renderings where the
 * card has them (`heldOutFigures`).
 */
export function rankModels<M extends { name: string; card: SuggestableCard }>(models: readonly M[], image: ImageFacts): M[] {
  const key = (m: M): number[] => [m.card.site ? (m.card.site.better ? 0 : 2) : 1, ...quietness(m.card), -(heldOutFigures(m.card).sensitivity1FP ?? -1)];
  const order = (a: number[], b: number[]) => a.reduce((d, x, i) => d || x - b[i], 0);
  const fitting = models.map((m, i) => ({ m, i, k: key(m) })).filter(({ m }) => m.card.intendedUse && !mismatch(m.name, m.card.intendedUse, image));
  return fitting.sort((a, b) => order(a.k, b.k) || a.i - b.i).map(({ m }) => m);
}

/**
 * The model to offer for an image: the first `rankModels` gives; else the first without a stated use; else
 * the first. Undefined for an empty list. The viewer then checks the offered model's appearance score and
 * offers the next that knows images like this one (`useModelOffer`).
 */
export function suggestModel<M extends { name: string; card: SuggestableCard }>(models: readonly M[], image: ImageFacts): M | undefined {
  return rankModels(models, image)[0] ?? models.find((m) => !m.card.intendedUse) ?? models[0];
}

/** An open image's facts from its summary: the header's kind and modality, its colour read off the thumbnail. */
export function factsOfSummary(summary: Pick<ImageSummary, 'kind' | 'modality' | 'thumbnail'>): ImageFacts {
  return { kind: summary.kind, modality: summary.modality, colourSpread: colourfulness(summary.thumbnail.rgba, 4) };
}
