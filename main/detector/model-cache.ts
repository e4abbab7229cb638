/**
 * Loaded detectors by model folder, one cache for every backend: an entry is reloaded when model.json
 * changes (a retrained model replaces the old one), and the replaced detector is disposed. At most
 * `capacity` stay loaded, the least recently used released first: the viewer's check of which model knows
 * an image, or a long session, would otherwise keep every model in the folder in memory.
 */
import { join } from 'node:path';
import { fileVersion, MODEL_FILE } from './io.ts';

/** Models a worker keeps loaded: Compare runs up to four side by side, and the viewer asks up to four. */
export const MODEL_CACHE_CAPACITY = 6;

export class ModelCache<T extends { dispose(): void | Promise<void> }> {
  private readonly entries = new Map<string, { version: string; detector: Promise<T> }>();

  /**
   * @param keepFailure a load failure for which this returns true stays cached until model.json changes
   *   (a model the ONNX exporter cannot map); any other failure (a file being written) is retried next time.
   */
  constructor(
    private readonly load: (dir: string) => Promise<T>,
    private readonly keepFailure: (err: unknown) => boolean = () => false,
    private readonly capacity = MODEL_CACHE_CAPACITY,
  ) {}

  get(dir: string): Promise<T> {
    // A missing model.json ('') is for the loader to report clearly.
    const version = fileVersion(join(dir, MODEL_FILE));
    const hit = this.entries.get(dir);
    if (hit && hit.version === version) {
      // Most recently used last (a Map keeps insertion order).
      this.entries.delete(dir);
      this.entries.set(dir, hit);
      return hit.detector;
    }
    if (hit) this.release(dir, hit.detector);
    const detector = this.load(dir);
    this.entries.set(dir, { version, detector });
    // A worker serves one request at a time, so the least recently used model is not in use while it goes.
    for (const [old, entry] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.release(old, entry.detector);
    }
    detector.catch((err) => {
      if (!this.keepFailure(err) && this.entries.get(dir)?.detector === detector) this.entries.delete(dir);
    });
    return detector;
  }

  private release(dir: string, detector: Promise<T>): void {
    this.entries.delete(dir);
    // Released in the background; a release that fails must not become an unhandled rejection in the worker.
    detector.then((d) => d.dispose()).catch(() => {});
  }

  /** Folders loaded now, least recently used first. */
  loaded(): string[] {
    return [...this.entries.keys()];
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(all.map((e) => e.detector.then((d) => d.dispose())));
  }
}
