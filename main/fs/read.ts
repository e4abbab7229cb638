/**
 * Reading a small file a user or another program put in a folder (a model's card, its network description, a
 * split, a manifest): only a regular file, and only up to a size the caller expects. A card.json linked to
 * /dev/zero grew the process by gigabytes while it was read whole; a FIFO blocked the event loop for good; a
 * 272 MB card aborted V8 ("invalid size") when its array was built, a crash no try/catch can catch.
 */
import { readFileSync, statSync } from 'node:fs';

/**
 * `path`'s bytes, if it is a regular file of at most `maxBytes`; otherwise throws, saying which. ENOENT passes
 * through as Node throws it.
 */
export function readBoundedBytes(path: string, maxBytes: number): Buffer {
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
  if (st.size > maxBytes) throw new Error(`${path} is ${st.size} bytes; at most ${maxBytes} are read`);
  const bytes = readFileSync(path);
  // It grew between the stat and the read (being written, or not what it claimed).
  if (bytes.byteLength > maxBytes) throw new Error(`${path} is over ${maxBytes} bytes`);
  return bytes;
}

/** `readBoundedBytes` as UTF-8 text. */
export function readBoundedText(path: string, maxBytes: number): string {
  return readBoundedBytes(path, maxBytes).toString('utf8');
}
