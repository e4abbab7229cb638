/**
 * The engine's side of the fit rule (preload/fit.ts): a polyp model run on a chest CT returns a confident
 * "lesion" over the mediastinum, and nothing else would say it is wrong. Main checks the pixels the
 * detector is given.
 */
import type { IntendedUse } from '../../preload/contract.ts';
import { colourfulness, mismatch as mismatchOf } from '../../preload/fit.ts';

/** What main knows of an image when it runs a model on it: its header's facts and its display pixels. */
export interface ImageFacts {
  kind: 'dicom' | 'raster';
  modality?: string;
  /** Interleaved RGB bytes, as the detector is given them. */
  rgb: { width: number; height: number; data: Uint8Array };
}

/** Why `image` is not the kind `use` describes, or undefined when it is (preload/fit.ts decides). */
export function mismatch(model: string, use: IntendedUse | undefined, image: ImageFacts): string | undefined {
  return mismatchOf(model, use, { kind: image.kind, modality: image.modality, colourSpread: colourfulness(image.rgb.data) });
}
export { unfamiliar } from '../../preload/fit.ts';
