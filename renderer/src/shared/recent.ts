/**
 * Per-image memory that does not grow without bound: detection results and Grad-CAMs carry full-size maps
 * (tens of MB for a big image), so a panel keeps only the most recently stored few.
 */

/** `prev` with `key` set to `value` as its newest entry, less the oldest entries beyond `keep`. */
export function remember<T>(prev: Readonly<Record<string, T>>, key: string, value: T, keep: number): Record<string, T> {
  const next = { ...prev };
  // Deleted first, so a key stored again counts as the newest (object keys keep their insertion order).
  delete next[key];
  next[key] = value;
  const keys = Object.keys(next);
  for (const k of keys.slice(0, Math.max(0, keys.length - keep))) delete next[k];
  return next;
}

/** `prev` without `key` (the same object when it had none, so React skips the render). */
export function forget<T>(prev: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  if (!(key in prev)) return prev;
  const next = { ...prev };
  delete next[key];
  return next;
}
