/**
 * Getting the user's files to the services in the browser: picked files, picked folders and dropped
 * files or folders all become `imaging.upload` calls, in batches small enough for one request each.
 */
import type { OpenResult, StudioApi } from '../../../preload/contract.ts';

const BATCH_FILES = 500;
const BATCH_BYTES = 256 * 1024 ** 2;
/** Matches the host's body limit; a bigger file is reported instead of sent. */
const MAX_FILE = 1024 ** 3 - 1024 ** 2;
const MAX_FILES = 10_000;

export interface Picked {
  file: File;
  /** Path inside a picked or dropped folder, or the file name. */
  name: string;
}

/** Hidden files (.DS_Store, ._foo) are never images; skipping them keeps a folder's error list honest. */
const hidden = (name: string) => name.split('/').some((part) => part.startsWith('.'));

export function fromFileList(list: FileList | null): Picked[] {
  const out: Picked[] = [];
  for (const file of Array.from(list ?? [])) {
    const name = file.webkitRelativePath || file.name;
    if (!hidden(name)) out.push({ file, name });
  }
  return out;
}

/** Files and folders dropped on the viewer, folders walked recursively. */
export async function fromDrop(items: DataTransferItemList): Promise<Picked[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of Array.from(items)) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.();
    if (entry) entries.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push(f);
    }
  }
  const out: Picked[] = loose.map((file) => ({ file, name: file.name }));
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (out.length >= MAX_FILES) return;
    const name = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (hidden(entry.name)) return;
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ file, name });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries hands out a directory in chunks; an empty chunk means the end.
      for (;;) {
        const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (chunk.length === 0) break;
        for (const child of chunk) await walk(child, name);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

/** Upload in batches; a file that cannot even be read is reported, and the others still go. */
export async function uploadPicked(api: StudioApi, picked: Picked[], progress: (done: number, total: number) => void): Promise<OpenResult> {
  const result: OpenResult = { images: [], errors: [] };
  const files = picked.slice(0, MAX_FILES);
  if (picked.length > MAX_FILES) result.errors.push({ file: `${picked.length - MAX_FILES} more files`, message: `only the first ${MAX_FILES} files of one drop are opened` });
  let i = 0;
  while (i < files.length) {
    const batch: { name: string; bytes: Uint8Array<ArrayBuffer> }[] = [];
    let bytes = 0;
    while (i < files.length && batch.length < BATCH_FILES && (batch.length === 0 || bytes + files[i].file.size <= BATCH_BYTES)) {
      const { file, name } = files[i++];
      if (file.size > MAX_FILE) {
        result.errors.push({ file: name, message: `file is ${(file.size / 1024 ** 3).toFixed(1)} GiB; the browser host accepts files under 1 GiB (open it by path instead)` });
        continue;
      }
      try {
        batch.push({ name, bytes: new Uint8Array(await file.arrayBuffer()) });
        bytes += file.size;
      } catch (err) {
        result.errors.push({ file: name, message: `could not read the file: ${(err as Error).message}` });
      }
    }
    if (batch.length) {
      try {
        const r = await api['imaging.upload']({ files: batch });
        result.images.push(...r.images);
        result.errors.push(...r.errors);
      } catch (err) {
        for (const f of batch) result.errors.push({ file: f.name, message: (err as Error).message });
      }
    }
    progress(i, files.length);
  }
  return result;
}
