/**
 * The folders a transport's caller may open or write: the browser host puts every call through
 * `guardDispatch`, and the Electron shell can wrap its IPC dispatch the same way (main/index.ts already
 * imports host/security.ts), so one rule decides for both.
 *
 * Whoever holds the host's token (or a script injected into the renderer) could otherwise read any image
 * on the machine, with its patient identity, and create files anywhere. The rule: a path a payload names
 * must lie, after following links, inside one of
 *   - the studio's own folders: STUDIO_HOME, the models folder, the reference data folder;
 *   - the folders the user added: `STUDIO_ALLOWED_DIRS`, or the folders the shell was started with;
 *   - the folders and files the user picked in the native open dialog this session;
 *   - the image files the studio itself listed this session (the review worklist, a dataset sample).
 * Anything else is a FORBIDDEN error naming the path and how to allow it. The services themselves (and so
 * the CLI, where the user types the path) are not limited.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Envelope, type OpenResult, StudioError, isChannel, validateRequest } from '../../preload/contract.ts';
import { isInside, realish } from '../fs/names.ts';
import { listImageFiles } from '../imaging/files.ts';
import { type Settings, resolveProjectPath } from '../settings.ts';

type Dispatch = (channel: string, payload: unknown) => Promise<Envelope<unknown>>;

/** Most image files one imaging.open or batch.start may reach through the host (the contract's cap on a path list). */
export const HOST_MAX_FILES = 10_000;

export type Access = 'open' | 'write';

export class FolderAllowlist {
  private readonly roots = new Map<string, string>();
  private readonly files = new Set<string>();

  /** The studio's own folders from `settings`, its `allowedDirs`, and `extra` (what the shell was started with). */
  static fromSettings(settings: Settings, extra: string[] = []): FolderAllowlist {
    const list = new FolderAllowlist();
    for (const dir of [settings.homeDir, settings.modelsDir, settings.dataDir, ...(settings.allowedDirs ?? []), ...extra]) if (dir) list.addFolder(dir);
    return list;
  }

  /** Allow a folder and everything under it. */
  addFolder(dir: string): void {
    this.roots.set(realish(dir), resolve(dir));
  }

  /** Allow one file (or, when it is a folder, everything under it). */
  addPath(path: string): void {
    const real = realish(path);
    this.files.add(real);
  }

  /** The allowed folders, as given. */
  folders(): string[] {
    return [...this.roots.values()];
  }

  /** Whether a real (links followed) path may be used. */
  allowsReal(real: string): boolean {
    if (this.files.has(real)) return true;
    for (const root of this.roots.keys()) if (isInside(root, real)) return true;
    for (const granted of this.files) if (isInside(granted, real)) return true;
    return false;
  }

  /** `path` as an absolute path when allowed; otherwise FORBIDDEN naming it, the allowed folders and how to add one. */
  check(path: string, access: Access, field: string): string {
    const full = resolve(path);
    if (this.allowsReal(realish(full))) return full;
    const verb = access === 'write' ? 'write to' : 'open';
    const where = this.folders().length ? this.folders().join(', ') : 'none';
    throw new StudioError(
      'FORBIDDEN',
      `${field}: ${full} is outside the folders the studio may ${verb} (${where}). Open it with the Open dialog, or add its folder to STUDIO_ALLOWED_DIRS and restart the studio.`,
      field,
    );
  }
}

/**
 * Paths a response hands out that a later call may open: folders and files the user picked, images of the
 * studio's own review store, and a dataset sample that lies in its dataset's folder (a COCO file's images
 * beside it). A dataset may name images anywhere (a review store does), and a caller may point
 * `evaluation.sample` at any dataset inside the allowed folders, so its samples elsewhere are not granted:
 * that would open any file on the machine to whoever can write a store into an allowed folder.
 */
function grantFromResponse(list: FolderAllowlist, channel: string, value: unknown, request: Record<string, unknown>): void {
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== 'object') return;
  if (channel === 'dialog.open' && Array.isArray(v.paths)) for (const p of v.paths) if (typeof p === 'string') list.addPath(p);
  if (channel === 'review.findings' && typeof v.path === 'string') list.addPath(v.path);
  if (channel === 'evaluation.sample' && typeof v.path === 'string' && typeof request.data === 'string') {
    const data = realish(request.data);
    const folder = statSync(data, { throwIfNoEntry: false })?.isDirectory() ? data : dirname(data);
    if (isInside(folder, realish(v.path))) list.addPath(v.path);
  }
  if (channel === 'review.worklist' && Array.isArray(v.items)) for (const item of v.items as { path?: unknown }[]) if (typeof item?.path === 'string') list.addPath(item.path);
}

/**
 * Image files under the allowed paths a payload named, the walk kept inside the allowlist (a link out of an
 * allowed folder is skipped and reported) and capped at HOST_MAX_FILES, so the service gets only files.
 */
async function expand(list: FolderAllowlist, paths: string[], field: string): Promise<{ files: string[]; errors: OpenResult['errors'] }> {
  const checked = paths.map((p, i) => list.check(p, 'open', paths.length > 1 ? `${field}.${i}` : field));
  return listImageFiles(checked, { maxFiles: HOST_MAX_FILES, allow: (real) => list.allowsReal(real) });
}

/**
 * `dispatch` with every path a payload names checked against `list` first (FORBIDDEN otherwise). Folder
 * walks for imaging.open and batch.start happen here, inside the allowlist, and the services receive the
 * files; payloads that fail the contract go on unchanged, so their error stays INVALID_PAYLOAD.
 */
export function guardDispatch(dispatch: Dispatch, list: FolderAllowlist): Dispatch {
  return async (channel, payload) => {
    if (!isChannel(channel)) return dispatch(channel, payload);
    const valid = validateRequest(channel, payload);
    if (!valid.ok) return dispatch(channel, payload);
    let request: Record<string, unknown> = payload as Record<string, unknown>;
    let walkErrors: OpenResult['errors'] = [];
    try {
      switch (channel) {
        case 'imaging.open': {
          const { paths } = valid.value as { paths: string[] };
          const { files, errors } = await expand(list, paths, 'paths');
          if (!files.length) return { ok: true, value: { images: [], errors } satisfies OpenResult };
          request = { ...request, paths: files };
          walkErrors = errors;
          break;
        }
        case 'batch.start': {
          const { inputs, out, store } = valid.value as { inputs: string[]; out: string; store?: string };
          const outPath = list.check(out, 'write', 'out');
          const storePath = store === undefined ? undefined : list.check(store, 'write', 'store');
          const { files } = await expand(list, inputs, 'inputs');
          if (!files.length) throw new StudioError('NOT_FOUND', `inputs: no image files under ${inputs.join(', ')} inside the allowed folders`, 'inputs');
          request = { ...request, inputs: files, out: outPath, ...(storePath ? { store: storePath } : {}) };
          break;
        }
        case 'training.start':
        case 'training.plan':
        case 'evaluation.compare':
        case 'evaluation.sample': {
          const { data, negatives } = valid.value as { data: string; negatives?: string[] };
          request = { ...request, data: list.check(resolveProjectPath(data), 'open', 'data') };
          if (negatives) request = { ...request, negatives: negatives.map((n) => list.check(resolveProjectPath(n), 'open', 'negatives')) };
          break;
        }
        case 'training.adapt': {
          // The store is only read (the default one, the studio's own, needs no check); the model goes to models/.
          const { store, negatives } = valid.value as { store?: string; negatives?: string[] };
          if (store !== undefined) request = { ...request, store: list.check(resolveProjectPath(store), 'open', 'store') };
          if (negatives) request = { ...request, negatives: negatives.map((n) => list.check(resolveProjectPath(n), 'open', 'negatives')) };
          break;
        }
      }
    } catch (err) {
      if (err instanceof StudioError) return { ok: false, error: err.toJSON() };
      throw err;
    }
    const result = await dispatch(channel, request);
    if (result.ok) {
      grantFromResponse(list, channel, result.value, request);
      if (walkErrors.length) {
        const opened = result.value as OpenResult;
        return { ok: true, value: { ...opened, errors: [...walkErrors, ...opened.errors] } };
      }
    }
    return result;
  };
}
