/**
 * Loaded detectors by model folder, one cache for every backend: an entry is reloaded when model.json
 * changes (a retrained model replaces the old one), and the replaced detector is disposed.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_FILE } from './io.ts';

export class ModelCache<T extends { dispose(): void | Promise<void> }> {
  private readonly entries = new Map<string, { mtime: string; detector: Promise<T> }>();

  /**
   * @param keepFailure a load failure for which this returns true stays cached until model.json changes
   *   (a model the ONNX exporter cannot map); any other failure (a file being written) is retried next time.
   */
  constructor(
    private readonly load: (dir: string) => Promise<T>,
    private readonly keepFailure: (err: unknown) => boolean = () => false,
  ) {}

  get(dir: string): Promise<T> {
    // model.json is replaced by a rename (io.ts writeAtomic): a new file is a new inode, even within the
    // old one's mtime tick.
    let mtime = '';
    try {
      const st = statSync(join(dir, MODEL_FILE));
      mtime = `${st.ino}:${st.mtimeMs}`;
    } catch {
      // the loader reports the missing file clearly
    }
    const hit = this.entries.get(dir);
    if (hit && hit.mtime === mtime) return hit.detector;
    if (hit) {
      this.entries.delete(dir);
      // Released in the background; a release that fails must not become an unhandled rejection in the worker.
      hit.detector.then((d) => d.dispose()).catch(() => {});
    }
    const detector = this.load(dir);
    this.entries.set(dir, { mtime, detector });
    detector.catch((err) => {
      if (!this.keepFailure(err) && this.entries.get(dir)?.detector === detector) this.entries.delete(dir);
    });
    return detector;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(all.map((e) => e.detector.then((d) => d.dispose())));
  }
}
