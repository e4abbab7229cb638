/**
 * Decoded frames the renderer holds: fetched once, kept while they fit a memory budget (least recently
 * used go first), and shared between concurrent requests for the same frame. Windowing never re-fetches.
 */
import type { FramePixels, StudioApi } from '../../../preload/contract.ts';

const BUDGET = 768 * 1024 ** 2;

export class FrameCache {
  private readonly frames = new Map<string, FramePixels>();
  private readonly pending = new Map<string, Promise<FramePixels>>();
  private bytes = 0;

  constructor(private readonly api: StudioApi) {}

  peek(id: string, frame: number): FramePixels | undefined {
    const key = `${id}:${frame}`;
    const hit = this.frames.get(key);
    if (hit) {
      this.frames.delete(key);
      this.frames.set(key, hit);
    }
    return hit;
  }

  get(id: string, frame: number): Promise<FramePixels> {
    const hit = this.peek(id, frame);
    if (hit) return Promise.resolve(hit);
    const key = `${id}:${frame}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.api['imaging.frame']({ id, frame }).then(
        (px) => {
          this.pending.delete(key);
          this.frames.set(key, px);
          this.bytes += px.data.byteLength;
          this.evict();
          return px;
        },
        (err: unknown) => {
          this.pending.delete(key);
          throw err;
        },
      );
      this.pending.set(key, p);
    }
    return p;
  }

  drop(ids: Set<string>): void {
    for (const [key, px] of this.frames) {
      if (ids.has(px.id)) {
        this.frames.delete(key);
        this.bytes -= px.data.byteLength;
      }
    }
  }

  private evict(): void {
    // Keep at least the newest frame, however big.
    for (const [key, px] of this.frames) {
      if (this.bytes <= BUDGET || this.frames.size <= 1) break;
      this.frames.delete(key);
      this.bytes -= px.data.byteLength;
    }
  }
}
