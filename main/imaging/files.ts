/** Finding image files under the paths a person gave: folders recursively, in a stable sorted order. */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';

const DICOM_EXT = new Set(['.dcm', '.dicom', '.dic', '.ima']);
export const RASTER_EXT = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff']);

async function hasDicmMagic(file: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 128);
    return bytesRead === 4 && buf.toString('latin1') === 'DICM';
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

async function isImageFile(file: string): Promise<boolean> {
  const ext = extname(file).toLowerCase();
  if (DICOM_EXT.has(ext) || RASTER_EXT.has(ext)) return true;
  return hasDicmMagic(file);
}

/** How far a folder walk goes: a folder of folders (or `/`) must not walk for ever. */
export const WALK_LIMITS = { maxDepth: 32, maxEntries: 500_000, maxFiles: 100_000 } as const;

export interface ListOptions {
  /** Folder levels below a given folder that are walked (a given folder is depth 0). */
  maxDepth?: number;
  /** Folder entries looked at over the whole walk. */
  maxEntries?: number;
  /** Image files kept; the walk stops there. */
  maxFiles?: number;
  signal?: AbortSignal;
  /**
   * Whether a file or folder the walk reaches may be used, by its real path (links followed): a link
   * inside an allowed folder that points outside it is skipped and named in `errors`.
   */
  allow?: (realPath: string) => boolean;
}

/**
 * Files named directly are kept whatever their extension (opening them says what is wrong); inside
 * folders, DICOM is recognised by extension or the DICM magic and rasters by extension. Hidden entries
 * are skipped and each real folder is visited once, so a link loop cannot recurse forever; the walk stops
 * at WALK_LIMITS (or the caller's), saying so in `errors`, and when `signal` aborts.
 */
export async function listImageFiles(inputs: string[], options: ListOptions = {}): Promise<{ files: string[]; errors: { file: string; message: string }[] }> {
  const maxDepth = options.maxDepth ?? WALK_LIMITS.maxDepth;
  const maxEntries = options.maxEntries ?? WALK_LIMITS.maxEntries;
  const maxFiles = options.maxFiles ?? WALK_LIMITS.maxFiles;
  const files = new Set<string>();
  const errors: { file: string; message: string }[] = [];
  const seen = new Set<string>();
  let entriesSeen = 0;
  let stopped: string | undefined;
  const stop = (file: string, message: string) => {
    if (stopped) return;
    stopped = message;
    errors.push({ file, message });
  };
  const allowed = async (full: string): Promise<boolean> => {
    if (!options.allow) return true;
    const real = await realpath(full).catch(() => full);
    if (options.allow(real)) return true;
    errors.push({ file: full, message: `${full}: skipped, it leads to ${real}, outside the allowed folders` });
    return false;
  };
  const keep = (file: string) => {
    if (files.size >= maxFiles) return stop(file, `stopped after ${maxFiles} image files; open a smaller folder`);
    files.add(file);
  };

  const walk = async (dir: string, depth: number): Promise<void> => {
    if (stopped) return;
    if (options.signal?.aborted) return stop(dir, 'cancelled');
    if (depth > maxDepth) {
      errors.push({ file: dir, message: `${dir}: not opened, folders nested more than ${maxDepth} deep` });
      return;
    }
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      errors.push({ file: dir, message: `${dir}: cannot read folder (${(err as Error).message})` });
      return;
    }
    for (const entry of entries) {
      if (stopped) return;
      if (++entriesSeen > maxEntries) return stop(dir, `stopped after looking at ${maxEntries} folder entries; open a smaller folder`);
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const s = await stat(full).catch(() => undefined);
        isDir = !!s?.isDirectory();
        isFile = !!s?.isFile();
        if ((isDir || isFile) && !(await allowed(full))) continue;
      }
      if (isDir) await walk(full, depth + 1);
      else if (isFile && (await isImageFile(full))) keep(full);
    }
  };

  for (const input of inputs) {
    if (stopped) break;
    const full = resolve(input);
    const s = await stat(full).catch(() => undefined);
    if (!s) errors.push({ file: full, message: `${full}: no such file or folder` });
    else if (!(await allowed(full))) continue;
    else if (s.isDirectory()) await walk(full, 0);
    else keep(full);
  }
  return { files: [...files].sort(), errors };
}
