/**
 * The one rule for when an image in the review worklist is reviewed, shared by the store's status filter
 * and progress counter and the Review panel: every finding on it is decided, and a reader has either
 * decided at least one finding or confirmed the image has no lesion. An image with no finding is therefore
 * reviewed only by a reader's explicit "no lesion" (issue 24), never by default: a lesion the model missed
 * must be put in front of a reader before the image can count, or train, as background.
 */
import type { WorklistItem } from './contract.ts';

export function isReviewed(item: Pick<WorklistItem, 'pending' | 'accepted' | 'rejected' | 'edited' | 'added' | 'noLesion'>): boolean {
  return reviewedBy(item.pending, item.accepted + item.rejected + item.edited + item.added, item.noLesion);
}

/** The same rule on counts: findings still undecided, findings decided, and whether a reader said "no lesion". */
export function reviewedBy(pending: number, decided: number, noLesion: boolean): boolean {
  return pending === 0 && (decided > 0 || noLesion);
}
