/**
 * How much of a request body the browser host takes, per channel, and how many large bodies it holds at
 * once. The host used to accept 1 GiB on every channel and any number at a time, holding each whole and
 * copying it once more (`Buffer.concat`): two 1000 MiB bodies took the process past 4 GB.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Channel } from '../../preload/contract.ts';
import { MAX_DECODED_BYTES } from '../imaging/guard.ts';

/** What a channel without an entry below may send: its payload is a few ids, numbers and names. */
export const SMALL_BODY = 64 * 1024;

/**
 * imaging.upload carries the files themselves. An uploaded file is held whole while it decodes into at most
 * MAX_DECODED_BYTES of pixels, so a body may take half that budget (1 GiB): the renderer sends files of up
 * to 1 GiB − 1 MiB one at a time, and smaller ones in batches of 256 MiB (renderer/src/viewer/files.ts).
 */
export const UPLOAD_MAX_BODY = MAX_DECODED_BYTES / 2;

const MiB = 1024 ** 2;

/** Channels whose payload can be long lists; sized for what the studio sends, not the contract's outer bounds. */
export const CHANNEL_BODY_LIMITS: Partial<Record<Channel, number>> = {
  'imaging.upload': UPLOAD_MAX_BODY,
  // 10,000 paths of 1.6 KB on average.
  'imaging.open': 16 * MiB,
  'batch.start': 16 * MiB,
  // 10,000 ids of up to 200 characters.
  'imaging.close': 4 * MiB,
  // A brush mask's run lengths: about two million runs.
  'review.add': 16 * MiB,
};

/** The largest body `channel` may send (unknown channels get the small limit; they are refused anyway). */
export function bodyLimit(channel: string): number {
  return Object.prototype.hasOwnProperty.call(CHANNEL_BODY_LIMITS, channel) ? (CHANNEL_BODY_LIMITS[channel as Channel] as number) : SMALL_BODY;
}

/** Bodies above this count against the upload budget. */
export const LARGE_BODY = 1 * MiB;
/** Large bodies read at once; more wait for a Retry-After. */
export const MAX_CONCURRENT_UPLOADS = 2;
/** Seconds a refused upload is told to wait. */
export const RETRY_AFTER_S = 5;
/**
 * Bytes of small bodies (up to LARGE_BODY each) read at once. They went uncounted: 2,500 held bodies of
 * 1 MiB took the host to 1.5 GB. The studio's own calls send a few KB each, a few at a time.
 */
export const SMALL_BODIES_BUDGET = 256 * MiB;
/** A body that sends nothing for this long is dropped, so a stalled client cannot hold the budget. */
export const BODY_IDLE_MS = 30_000;

/**
 * The bytes and count of large bodies being read: a body reserves its declared size (or, chunked, what has
 * arrived) before it is buffered, and gives it back when its call ends or it is refused.
 */
export class UploadGate {
  private bytes = 0;
  private count = 0;
  private smallBytes = 0;

  constructor(
    readonly budget: number = UPLOAD_MAX_BODY,
    readonly maxConcurrent: number = MAX_CONCURRENT_UPLOADS,
    readonly smallBudget: number = SMALL_BODIES_BUDGET,
  ) {}

  /** A small body holds `bytes` more: false when the small bodies together would pass their budget. */
  holdSmall(bytes: number): boolean {
    if (this.smallBytes + bytes > this.smallBudget) return false;
    this.smallBytes += bytes;
    return true;
  }

  releaseSmall(bytes: number): void {
    this.smallBytes -= bytes;
  }

  /** A new large body of `bytes`: false when it would pass the count or the byte budget. */
  open(bytes: number): boolean {
    if (this.count >= this.maxConcurrent || this.bytes + bytes > this.budget) return false;
    this.count++;
    this.bytes += bytes;
    return true;
  }

  /** A body already open grows by `bytes` (chunked bodies): false when the budget is spent. */
  grow(bytes: number): boolean {
    if (this.bytes + bytes > this.budget) return false;
    this.bytes += bytes;
    return true;
  }

  close(bytes: number): void {
    this.count--;
    this.bytes -= bytes;
  }

  /** What is held now (tests, and a log line when a body is refused). */
  held(): { bodies: number; bytes: number; smallBytes: number } {
    return { bodies: this.count, bytes: this.bytes, smallBytes: this.smallBytes };
  }
}

/** Bodies at least this large ask for a collection once their call has ended (see collectSoon). */
export const COLLECT_AFTER_BYTES = 64 * 1024 ** 2;

let gc: (() => void) | null | undefined;
let pending: NodeJS.Timeout | undefined;

/**
 * A body's buffer is freed only when V8 next collects its old generation, and an idle host never does: a
 * 1000 MiB upload kept 1.1 GB resident for as long as the host sat idle after it. Once a large body's call
 * has ended (and its buffer is unreachable), ask for one collection; a few ms, only after large bodies.
 */
export function collectSoon(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  const collect = gc;
  if (!collect || pending) return;
  pending = setTimeout(() => {
    pending = undefined;
    collect();
  }, 100);
  pending.unref();
}
