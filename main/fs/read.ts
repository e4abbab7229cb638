/**
 * Reading a small file a user or another program put in a folder (a model's card, its network description, a
 * split, a manifest): only a regular file, and only up to a size the caller expects. A card.json linked to
 * /dev/zero grew the process by gigabytes while it was read whole; a FIFO blocked the event loop for good; a
 * 272 MB card aborted V8 ("invalid size") when its array was built, a crash no try/catch can catch.
 */
import { readFileSync, statSync } from 'node:fs';

export class FileTooLargeError extends Error {}

/**
 * `path`'s text, if it is a regular file of at most `maxBytes`; otherwise throws (a FileTooLargeError for a
 * file over the size, an Error naming what it is otherwise). ENOENT passes through as Node throws it.
 */
export function readBoundedText(path: string, maxBytes: number): string {
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
  if (st.size > maxBytes) throw new FileTooLargeError(`${path} is ${st.size} bytes; at most ${maxBytes} are read`);
  const text = readFileSync(path, 'utf8');
  // It grew between the stat and the read (being written, or not what it claimed).
  if (Buffer.byteLength(text) > maxBytes) throw new FileTooLargeError(`${path} is over ${maxBytes} bytes`);
  return text;
}
