/** Seeded, reproducible splits of a dataset's sample ids. */

export type SplitName = 'train' | 'val' | 'test';

/** mulberry32: a small, fast, seedable PRNG (the split and augmentation must be reproducible). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface Split {
  seed: number;
  ratios: [number, number, number];
  train: string[];
  val: string[];
  test: string[];
}

/** Seeded split of sample ids (sorted first, so the split does not depend on directory order). */
export function splitDataset(ids: string[], seed: number, ratios: [number, number, number] = [0.7, 0.15, 0.15]): Split {
  const order = shuffle([...ids].sort(), rng(seed));
  const total = ratios[0] + ratios[1] + ratios[2];
  const nTrain = Math.round((order.length * ratios[0]) / total);
  const nVal = Math.round((order.length * ratios[1]) / total);
  return { seed, ratios, train: order.slice(0, nTrain), val: order.slice(nTrain, nTrain + nVal), test: order.slice(nTrain + nVal) };
}

