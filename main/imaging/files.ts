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

/**
 * Files named directly are kept whatever their extension (opening them says what is wrong); inside
 * folders, DICOM is recognised by extension or the DICM magic and rasters by extension. Hidden entries
 * are skipped and each real folder is visited once, so a link loop cannot recurse forever.
 */
export async function listImageFiles(inputs: string[]): Promise<{ files: string[]; errors: { file: string; message: string }[] }> {
  const files = new Set<string>();
  const errors: { file: string; message: string }[] = [];
  const seen = new Set<string>();

  const walk = async (dir: string): Promise<void> => {
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
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const s = await stat(full).catch(() => undefined);
        isDir = !!s?.isDirectory();
        isFile = !!s?.isFile();
      }
      if (isDir) await walk(full);
      else if (isFile && (await isImageFile(full))) files.add(full);
    }
  };

  for (const input of inputs) {
    const full = resolve(input);
    const s = await stat(full).catch(() => undefined);
    if (!s) errors.push({ file: full, message: `${full}: no such file or folder` });
    else if (s.isDirectory()) await walk(full);
    else files.add(full);
  }
  return { files: [...files].sort(), errors };
}
