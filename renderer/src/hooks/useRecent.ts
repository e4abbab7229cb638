/** Per-image memory: values by image (or any key), the most recently stored `keep` only (shared/recent.ts). */
import { useCallback, useState } from 'react';
import { remember } from '../shared/recent.ts';

export function useRecent<T>(keep: number): { items: Readonly<Record<string, T>>; put(key: string, value: T): void } {
  const [items, setItems] = useState<Readonly<Record<string, T>>>({});
  const put = useCallback((key: string, value: T) => setItems((prev) => remember(prev, key, value, keep)), [keep]);
  return { items, put };
}
