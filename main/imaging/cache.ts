/**
 * One memory budget for decoded frames across every open image: opening a folder of a thousand slices
 * must not keep a thousand decoded frames alive, and scrolling one large series must stay cached.
 */

export const FRAME_CACHE_BYTES = 512 * 1024 ** 2;

interface Entry {
  value: Promise<unknown>;
  bytes: number;
}

class FrameMemory {
  private entries = new Map<string, Entry>();
  private used = 0;
  constructor(private readonly budget: number) {}

  /** The cached value for `key`, or `make()`'s, counted at `sizeOf(value)` bytes once it resolves. */
  get<T>(key: string, make: () => Promise<T>, sizeOf: (value: T) => number): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value as Promise<T>;
    }
    const entry: Entry = { value: make(), bytes: 0 };
    this.entries.set(key, entry);
    (entry.value as Promise<T>).then(
      (value) => {
        if (this.entries.get(key) !== entry) return;
        entry.bytes = sizeOf(value);
        this.used += entry.bytes;
        this.evict();
      },
      () => this.drop(key, entry),
    );
    return entry.value as Promise<T>;
  }

  private drop(key: string, entry: Entry): void {
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    this.used -= entry.bytes;
  }

  private evict(): void {
    // Oldest first; the newest entry always stays, even when it alone exceeds the budget.
    for (const [key, entry] of this.entries) {
      if (this.used <= this.budget || this.entries.size <= 1) break;
      this.drop(key, entry);
    }
  }

  /** Forget every entry of one image (its key prefix): a closed image's frames are dead weight. */
  release(prefix: string): void {
    for (const [key, entry] of this.entries) if (key.startsWith(`${prefix}/`)) this.drop(key, entry);
  }

  get bytesUsed(): number {
    return this.used;
  }
}

export const frameMemory = new FrameMemory(FRAME_CACHE_BYTES);

let nextImage = 0;
/** A key prefix unique to one loaded image. */
export function newImageKey(): string {
  return `img${nextImage++}`;
}

export function byteSize(value: { data: ArrayBufferView }): number {
  return value.data.byteLength;
}
