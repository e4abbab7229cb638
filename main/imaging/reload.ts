import { readFile, stat } from 'node:fs/promises';
import { imagingError } from './errors.ts';
import type { LoadedImage } from './types.ts';

/**
 * A loaded DICOM image holds its file's bytes (frames decode lazily from them). Opening a folder of
 * thousands of files must not hold them all, so file-backed images share a byte budget: the least
 * recently used ones let their bytes go and read the file again when next asked for a frame.
 */
/** Settable for tests. */
export const fileBytes = { budget: 1024 ** 3 };
const hot = new Map<object, { image: LoadedImage; bytes: number }>();
let hotBytes = 0;

function touch(owner: object, image: LoadedImage, bytes: number): void {
  const had = hot.get(owner);
  if (had) {
    hot.delete(owner);
    hotBytes -= had.bytes;
  }
  hot.set(owner, { image, bytes });
  hotBytes += bytes;
  for (const [key, entry] of hot) {
    if (hotBytes <= fileBytes.budget || hot.size <= 1) break;
    hot.delete(key);
    hotBytes -= entry.bytes;
  }
}

export function reloadable(path: string, first: LoadedImage, size: number, load: (bytes: Uint8Array) => Promise<LoadedImage>): LoadedImage {
  const owner = {};
  const meta = first.meta();
  const info = first.info;
  touch(owner, first, size);
  let reloading: Promise<LoadedImage> | undefined;
  const current = async (): Promise<LoadedImage> => {
    const entry = hot.get(owner);
    if (entry) {
      touch(owner, entry.image, entry.bytes);
      return entry.image;
    }
    reloading ??= (async () => {
      const s = await stat(path).catch(() => undefined);
      if (!s || s.size !== size) throw imagingError('DECODE_FAILED', path, 'the file changed or went away since it was opened');
      const image = await load(new Uint8Array(await readFile(path)));
      touch(owner, image, size);
      return image;
    })().finally(() => {
      reloading = undefined;
    });
    return reloading;
  };
  return {
    info,
    frame: async (i) => (await current()).frame(i),
    stored: async (i) => (await current()).stored(i),
    meta: () => meta,
    release: () => {
      const entry = hot.get(owner);
      if (entry) {
        hot.delete(owner);
        hotBytes -= entry.bytes;
        entry.image.release?.();
      }
      first.release?.();
    },
  };
}
