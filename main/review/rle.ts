/** Validation of masks arriving over the contract; the codec itself lives with the contract. */
import { StudioError } from '../../preload/contract.ts';
import type { Rle } from '../../preload/mask-rle.ts';

export { type Rle, rleArea, rleBox, rleDecode, rleEncode } from '../../preload/mask-rle.ts';

/** Validates a mask against the image it belongs to; throws INVALID_PAYLOAD with the reason. */
export function checkRle(mask: unknown, width: number, height: number): Rle {
  const m = mask as Rle;
  if (!m || !Array.isArray(m.counts) || !Array.isArray(m.size) || m.size.length !== 2) {
    throw new StudioError('INVALID_PAYLOAD', 'a mask is {counts: number[], size: [height, width]}', 'mask');
  }
  const [h, w] = m.size;
  if (h !== height || w !== width) throw new StudioError('INVALID_PAYLOAD', `mask size [${h}, ${w}] does not match the image's [${height}, ${width}] (COCO order is [height, width])`, 'mask');
  let total = 0;
  for (const c of m.counts) {
    if (!Number.isInteger(c) || c < 0) throw new StudioError('INVALID_PAYLOAD', 'mask counts are non-negative integers', 'mask');
    total += c;
  }
  if (total !== h * w) throw new StudioError('INVALID_PAYLOAD', `mask counts sum to ${total}, not height × width = ${h * w}`, 'mask');
  return { counts: [...m.counts], size: [h, w] };
}
