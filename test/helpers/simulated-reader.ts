/**
 * A reader simulated from ground-truth masks, who reviews through the studio's public contract (the same
 * calls the Review panel makes): a finding that overlaps a true lesion (IoU ≥ 0.3 with its box, the hit rule
 * evaluation uses) is accepted, any other is rejected, a lesion no finding hit is added with its painted
 * mask, and a frame without lesion or finding gets the reader's own "no lesion" decision. Used by the
 * site-loop end-to-end test and scripts/site-experiment.ts.
 */
import sharp from 'sharp';
import type { Box } from '../../preload/contract.ts';
import { rleEncode, type Rle } from '../../preload/mask-rle.ts';
import { connectedComponents, boxIoU } from '../../main/evaluation/components.ts';

export type Call = (channel: string, payload: unknown) => Promise<unknown>;

export interface TrueLesion {
  box: Box;
  mask: Rle;
}

/** The lesions of a binary mask file (> 127), one per 8-connected component of at least 10 pixels. */
export async function lesionsFromMask(file: string): Promise<TrueLesion[]> {
  const { data, info } = await sharp(file, { failOn: 'none' }).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const bin = new Uint8Array(width * height);
  for (let i = 0; i < bin.length; i++) bin[i] = data[i] > 127 ? 1 : 0;
  const { components, labels } = connectedComponents(bin, width, height, 0.5, 10);
  return components.map((c) => {
    const one = new Uint8Array(width * height);
    for (let i = 0; i < one.length; i++) if (labels[i] === c.label) one[i] = 1;
    return { box: c.box, mask: rleEncode(one, width, height) };
  });
}

export interface ReadOutcome {
  images: number;
  accepted: number;
  rejected: number;
  added: number;
  noLesion: number;
}

interface WorkItem {
  imageId: number;
  path: string;
}
interface Finding {
  id: number;
  box: Box;
  decision: string;
}

/**
 * Reviews `images` (worklist items) as `reviewer` would with the truth at hand. `truth(path)` gives an image's
 * lesions ([] for a lesion-free frame, undefined to skip the image).
 */
export async function readImages(call: Call, reviewer: string, images: readonly WorkItem[], truth: (path: string) => Promise<TrueLesion[] | undefined>): Promise<ReadOutcome> {
  const out: ReadOutcome = { images: 0, accepted: 0, rejected: 0, added: 0, noLesion: 0 };
  for (const item of images) {
    const lesions = await truth(item.path);
    if (!lesions) continue;
    out.images++;
    const { findings } = (await call('review.findings', { imageId: item.imageId })) as { findings: Finding[] };
    const hit = new Set<number>();
    for (const f of findings) {
      const matches = lesions.map((l, i) => [i, boxIoU(f.box, l.box)] as const).filter(([, iou]) => iou >= 0.3);
      if (matches.length) {
        for (const [i] of matches) hit.add(i);
        await call('review.decide', { findingId: f.id, reviewer, decision: 'accepted' });
        out.accepted++;
      } else {
        await call('review.decide', { findingId: f.id, reviewer, decision: 'rejected' });
        out.rejected++;
      }
    }
    for (const [i, l] of lesions.entries()) {
      if (hit.has(i)) continue;
      await call('review.add', { imageId: item.imageId, reviewer, box: l.box, mask: l.mask });
      out.added++;
    }
    if (lesions.length === 0 && findings.length === 0) {
      await call('review.noLesion', { imageId: item.imageId, reviewer });
      out.noLesion++;
    }
  }
  return out;
}
