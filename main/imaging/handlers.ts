/**
 * The image session behind the imaging.* channels: every opened image by id, with its summary. Opening
 * many files goes on past the ones that fail (each named in `errors`), a few at a time so a folder of
 * thousands neither blocks the process nor holds every file in memory at once.
 */
import { randomUUID } from 'node:crypto';
import type { FramePixels, Handlers, ImageSummary, OpenResult } from '../../preload/contract.ts';
import { StudioError } from '../../preload/contract.ts';
import type { ImageProvider } from '../core/context.ts';
import { ImagingError } from './errors.ts';
import { listImageFiles, loadImageBytes, loadImageFile, thumbnail, type LoadedImage } from './index.ts';

type ImagingChannels = 'imaging.open' | 'imaging.upload' | 'imaging.list' | 'imaging.frame' | 'imaging.close';

export interface ImagingService {
  handlers: Pick<Handlers, ImagingChannels>;
  provider: ImageProvider;
  close(): Promise<void>;
}

const OPEN_CONCURRENCY = 2;

interface Entry {
  image: LoadedImage;
  summary: ImageSummary;
}

function compareSummaries(a: ImageSummary, b: ImageSummary): number {
  const key = (s: ImageSummary) => [s.study.uid ?? s.study.description ?? '', s.series.number ?? 0, s.series.uid ?? '', s.instance.number ?? 0, s.path ?? s.name] as const;
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    const x = ka[i];
    const y = kb[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y), undefined, { numeric: true });
  }
  return 0;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createImagingHandlers(options: { log(line: string): void }): ImagingService {
  const session = new Map<string, Entry>();

  /** A library's own words behind an error go to the log, never to the person (errors.ts). */
  const logDetail = (err: unknown): void => {
    if (err instanceof ImagingError && err.detail) options.log(`imaging: ${err.message} [library: ${err.detail}]`);
  };

  const add = async (image: LoadedImage): Promise<ImageSummary> => {
    const id = randomUUID();
    const first = await image.frame(0);
    const window = image.info.windows[0];
    const summary: ImageSummary = { ...image.info, id, thumbnail: thumbnail(first, window ? { center: window.center, width: window.width } : undefined, 96) };
    session.set(id, { image, summary });
    return summary;
  };

  /** Opens each source with a few in flight; failures are collected, never thrown. */
  const openAll = async <T>(sources: T[], load: (s: T) => Promise<LoadedImage>, nameOf: (s: T) => string): Promise<OpenResult> => {
    const images: ImageSummary[] = [];
    const errors: OpenResult['errors'] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(OPEN_CONCURRENCY, sources.length) }, async () => {
        while (next < sources.length) {
          const source = sources[next++];
          try {
            images.push(await add(await load(source)));
          } catch (err) {
            errors.push({ file: nameOf(source), message: messageOf(err) });
            logDetail(err);
          }
        }
      }),
    );
    images.sort(compareSummaries);
    if (errors.length) options.log(`imaging: ${errors.length} file(s) could not be opened`);
    return { images, errors };
  };

  const entry = (id: string): Entry => {
    const found = session.get(id);
    if (!found) throw new StudioError('NOT_FOUND', `no open image with id ${id}`, id);
    return found;
  };

  const frame = async (id: string, index: number): Promise<FramePixels> => {
    const { image, summary } = entry(id);
    if (index >= summary.frames) throw new StudioError('NOT_FOUND', `${summary.name} has ${summary.frames} frame(s); frame ${index} does not exist`, id);
    try {
      return { id, ...(await image.frame(index)) };
    } catch (err) {
      logDetail(err);
      throw err;
    }
  };

  return {
    handlers: {
      'imaging.open': async ({ paths }) => {
        const listed = await listImageFiles(paths);
        const result = await openAll(listed.files, loadImageFile, (f) => f);
        return { images: result.images, errors: [...listed.errors, ...result.errors] };
      },
      'imaging.upload': async ({ files }) => openAll(files, (f) => loadImageBytes(f.bytes, f.name), (f) => f.name),
      'imaging.list': async () => [...session.values()].map((e) => e.summary).sort(compareSummaries),
      'imaging.frame': async ({ id, frame: index }) => frame(id, index),
      'imaging.close': async ({ ids }) => {
        let closed = 0;
        for (const id of ids) {
          const found = session.get(id);
          if (!found) continue;
          session.delete(id);
          found.image.release?.();
          closed++;
        }
        return { closed };
      },
    },
    provider: {
      summary: (id) => entry(id).summary,
      frame,
    },
    async close() {
      for (const e of session.values()) e.image.release?.();
      session.clear();
    },
  };
}
