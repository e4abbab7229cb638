/**
 * Whether an image is the kind a model is for, checked before its findings are trusted: a polyp model run
 * on a chest CT returns a confident "lesion" over the mediastinum, and nothing else would say it is wrong.
 * The checks use what the image declares (DICOM Modality) and what its pixels show (colour or grey).
 */
import type { IntendedUse } from '../../preload/contract.ts';

/** What the checks need to know of an image: its header's facts and its display pixels. */
export interface ImageFacts {
  kind: 'dicom' | 'raster';
  modality?: string;
  /** Interleaved RGB bytes, as the detector is given them. */
  rgb: { width: number; height: number; data: Uint8Array };
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

/** Mean colour spread of the pixels, in grey levels: how far R, G and B part from each other. */
export function colourfulness(rgb: ImageFacts['rgb']): number {
  const { data } = rgb;
  const pixels = data.length / 3;
  // A sample of at most 64 K pixels: enough to tell colour from grey, cheap on a 64 MP image.
  const step = Math.max(1, Math.floor(pixels / 65536));
  let sum = 0;
  let n = 0;
  for (let i = 0; i < pixels; i += step) {
    const r = data[i * 3];
    const g = data[i * 3 + 1];
    const b = data[i * 3 + 2];
    sum += Math.max(r, g, b) - Math.min(r, g, b);
    n++;
  }
  return n ? sum / n : 0;
}

/**
 * Below this mean spread an image is greyscale in all but its file format: endoscopy frames measure tens
 * of levels, greyscale scans stored as RGB (and JPEG's chroma noise on them) a few at most.
 */
export const GREY_SPREAD = 6;

/**
 * Why `image` is not the kind `use` describes, or undefined when it is. Each reason names the model and
 * what the image is instead, so the warning can be shown as it is.
 */
export function mismatch(model: string, use: IntendedUse | undefined, image: ImageFacts): string | undefined {
  if (!use) return undefined;
  const intended = `${model} is a model for ${use.images}`;
  const modality = image.modality?.trim().toUpperCase();
  if (image.kind === 'dicom' && modality && !use.modalities.includes(modality)) {
    return `${intended}; this image is ${MODALITY_WORDS[modality] ?? `of modality ${modality}`}, so its findings here mean nothing`;
  }
  const spread = colourfulness(image.rgb);
  if (use.colour === 'colour' && spread < GREY_SPREAD) return `${intended}; this image is greyscale, so its findings here mean nothing`;
  if (use.colour === 'grey' && spread >= GREY_SPREAD) return `${intended}; this image is in colour, so its findings here mean nothing`;
  return undefined;
}
