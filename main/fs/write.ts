/**
 * Writing a file so that a reader never sees half of it: the bytes go to a temporary file beside it, which
 * is then renamed over it (atomic on one filesystem). The temporary name is fresh each time (process,
 * thread and random bytes: several worker threads may write the same model's files at once) and opened
 * exclusively, so a file or link someone left under a predictable name is never written through. A failed
 * write leaves no temporary file behind.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, data, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    // EEXIST: the name was someone else's, and so is what is there; anything else, the half-written file is ours.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(tmp, { force: true });
    throw err;
  }
}
