/**
 * The common setup of the site experiments (scripts/site-experiment.ts, scripts/active-learning.ts): a "new
 * site" whose frames the base never trained on, analysed by the base into a review store through the
 * studio's contract, with the masks at hand as a simulated reader's truth (test/helpers/simulated-reader.ts).
 *
 * The site: the base's own validation and test images of its dataset (it never trained on them; its
 * validation images only picked its thresholds), with their masks as the reader's truth. `shift: 'bgr'`
 * shows them as another device would (red and blue swapped: another white balance and channel order), a site
 * the base has never seen the like of; `sequences: N` puts them in folders of N frames, as video sequences,
 * which an adaptation keeps whole.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import sharp from 'sharp';
import type { BatchProgress, ModelCard } from '../preload/contract.ts';
import { createServices } from '../main/services/index.ts';
import { type Settings, loadSettings, resolveProjectPath } from '../main/settings.ts';
import { lesionsFromMask, type Call, type TrueLesion } from '../test/helpers/simulated-reader.ts';

export interface SiteOptions {
  /** The base model's name (models/<base>). */
  base: string;
  /** How many of its held-out lesion images make the site. */
  images: number;
  shift?: 'bgr';
  /** Frames per sequence folder; none: the images as they lie. */
  sequences?: number;
}

export interface Site {
  settings: Settings;
  baseDir: string;
  card: ModelCard;
  /** A fresh temporary folder for this experiment (its shifted images, stores, models). */
  home: string;
  /** The site's images, in file order (sequence by sequence). */
  images: string[];
  /** The ground-truth mask file of a site image. */
  maskOf(path: string): string | undefined;
  /** A site image's true lesions, as the simulated reader sees them ([] for none, undefined: not a site image). */
  truth(path: string): Promise<TrueLesion[] | undefined>;
}

export async function buildSite(options: SiteOptions): Promise<Site> {
  const settings = loadSettings();
  const baseDir = join(settings.modelsDir, options.base);
  const card = JSON.parse(readFileSync(join(baseDir, 'card.json'), 'utf8')) as ModelCard;
  const data = resolveProjectPath(card.data?.path as string);
  const split = JSON.parse(readFileSync(join(baseDir, 'split.json'), 'utf8')) as { val: string[]; test: string[] };
  const negativeFolders = new Set((card.data?.negativeFolders ?? []).map((f) => basename(f)));
  const siteIds = [...split.val, ...split.test].filter((id) => !negativeFolders.has(id.split('/')[0])).slice(0, options.images);
  const home = mkdtempSync(join(tmpdir(), 'site-'));
  const maskFile = new Map<string, string>();
  const images: string[] = [];
  for (const [i, id] of siteIds.entries()) {
    const original = join(data, 'images', id);
    const stem = basename(id, extname(id));
    const mask = ['.jpg', '.png'].map((ext) => join(data, 'masks', stem + ext)).find((m) => existsSync(m));
    let path = original;
    if (options.shift || options.sequences) {
      const folder = join(home, 'site', options.sequences ? `seq${String(Math.floor(i / options.sequences)).padStart(3, '0')}` : '.');
      mkdirSync(folder, { recursive: true });
      path = join(folder, `${stem}.png`);
      const { data: px, info } = await sharp(original).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      if (options.shift === 'bgr') for (let p = 0; p < px.length; p += 3) [px[p], px[p + 2]] = [px[p + 2], px[p]];
      await sharp(px, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toFile(path);
    }
    if (mask) maskFile.set(path, mask);
    images.push(path);
  }
  const maskOf = (path: string) => maskFile.get(path);
  const truth = async (path: string) => {
    const m = maskOf(path);
    return m ? lesionsFromMask(m) : undefined;
  };
  return { settings, baseDir, card, home, images, maskOf, truth };
}

export interface SiteSession {
  /** The studio's contract, as the panels call it (a failed call throws with its message). */
  call: Call;
  /** Analyses `images` with `model` into `store` (batch.start, as the panel does) and waits for the batch to end. */
  analyze(model: string, images: readonly string[], store: string, out: string): Promise<BatchProgress>;
  close(): Promise<void>;
}

/** The studio's services over a home folder, whose review store (`<homeDir>/review.sqlite`) the review calls use. */
export function openSession(settings: Settings, homeDir: string): SiteSession {
  const services = createServices({ shell: 'browser', settings: { ...settings, homeDir }, log: () => {} });
  const call: Call = async (channel, payload) => {
    const r = (await services.dispatch(channel, payload)) as { ok: boolean; value?: unknown; error?: { message: string } };
    if (!r.ok) throw new Error(`${channel}: ${r.error?.message}`);
    return r.value;
  };
  const analyze = async (model: string, images: readonly string[], store: string, out: string) => {
    let unsubscribe = () => {};
    const done = new Promise<BatchProgress>((resolveDone) => {
      unsubscribe = services.events.subscribe((event, p) => {
        const b = p as BatchProgress;
        if (event === 'batch.progress' && ['finished', 'failed', 'cancelled'].includes(b.state)) resolveDone(b);
      });
    });
    try {
      await call('batch.start', { inputs: images, model, out, store });
      return await done;
    } finally {
      unsubscribe();
    }
  };
  return { call, analyze, close: () => services.close() };
}

/**
 * Site images with their true masks as a masks-format dataset (images/<sequence>_<stem>.<ext>, masks/<same
 * stem>.<mask's ext>), for scoring models on the site's truth rather than on the store's labels. Returns
 * the dataset's ids of the images that have a mask, in the given order.
 */
export function masksFolder(dir: string, paths: readonly string[], maskOf: (path: string) => string | undefined): string[] {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  const ids: string[] = [];
  for (const path of paths) {
    const mask = maskOf(path);
    if (!mask) continue;
    const stem = `${basename(dirname(path))}_${basename(path, extname(path))}`;
    copyFileSync(path, join(dir, 'images', stem + extname(path)));
    copyFileSync(mask, join(dir, 'masks', stem + extname(mask)));
    ids.push(stem + extname(path));
  }
  return ids;
}
