/**
 * Which images of a site are one sequence, so a split never puts frames of one video (or slices of one
 * series) on both sides: a model scored on frames next to the ones it learned from looks better than it is.
 * The first rule that tells anything apart, per image:
 *  - DICOM: the series, else the study;
 *  - a folder's manifest.csv group (datasets/formats.ts `manifestGroups`: near-duplicate frames);
 *  - the folder, when the images come from several (a video exported as one folder per sequence);
 *  - the file name without its frame number (`seq12_0034.png` → `seq12`), when that leaves several
 *    sequences of more than one frame;
 *  - else the image alone.
 */
import { basename, dirname, extname } from 'node:path';
import { manifestGroups } from './formats.ts';

export interface GroupedImage {
  id: string;
  path: string;
  uids?: { study?: string; series?: string };
}

export type GroupRule = 'series' | 'study' | 'manifest' | 'folder' | 'name' | 'image';

/** A frame number at the end of a file name, after a separator: `seq12_0034`, `case-3.0012`, `v1 17`. */
const FRAME_SUFFIX = /^(.+?)[-_. ](\d+)$/;

export function sequenceGroups(images: readonly GroupedImage[]): { groups: Map<string, string>; rules: GroupRule[] } {
  const groups = new Map<string, string>();
  // The rules that applied are read off the keys (ruleOf), so each key says what made it.
  const result = () => ({ groups, rules: [...new Set(images.map((im) => ruleOf(groups.get(im.id))))] });
  const rest: GroupedImage[] = [];
  for (const im of images) {
    if (im.uids?.series) groups.set(im.id, `series:${im.uids.series}`);
    else if (im.uids?.study) groups.set(im.id, `study:${im.uids.study}`);
    else rest.push(im);
  }

  const manifests = new Map<string, Map<string, string>>();
  const unmanifested: GroupedImage[] = [];
  for (const im of rest) {
    // A dataset folder keeps its manifest beside images/, a plain folder of frames inside.
    const dir = basename(dirname(im.path)) === 'images' ? dirname(dirname(im.path)) : dirname(im.path);
    let m = manifests.get(dir);
    if (!m) manifests.set(dir, (m = safeManifest(dir)));
    const g = m.get(basename(im.path));
    if (g) groups.set(im.id, `manifest:${dir}:${g}`);
    else unmanifested.push(im);
  }

  const folders = new Set(unmanifested.map((im) => dirname(im.path)));
  if (folders.size > 1) {
    for (const im of unmanifested) groups.set(im.id, `folder:${dirname(im.path)}`);
    return result();
  }

  const prefixOf = (im: GroupedImage) => FRAME_SUFFIX.exec(basename(im.path, extname(im.path)))?.[1];
  const counts = new Map<string, number>();
  for (const im of unmanifested) {
    const p = prefixOf(im);
    if (p !== undefined) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  // One prefix for every frame says nothing (`frame_0001` … `frame_0200`); prefixes shared by no two
  // frames group nothing either (unrelated names that merely end in a number).
  const byName = counts.size > 1;
  for (const im of unmanifested) {
    const p = byName ? prefixOf(im) : undefined;
    if (p !== undefined && (counts.get(p) ?? 0) > 1) groups.set(im.id, `name:${p}`);
  }
  return result();
}

function safeManifest(dir: string): Map<string, string> {
  try {
    return manifestGroups(dir);
  } catch {
    // A manifest that cannot be read groups nothing; the images still group by the later rules.
    return new Map();
  }
}

/** The rule that made a group key (`sequenceGroups`' keys start with it); a sample with no group stands alone. */
export function ruleOf(group: string | undefined): GroupRule {
  const rule = group?.slice(0, group.indexOf(':'));
  return rule === 'series' || rule === 'study' || rule === 'manifest' || rule === 'folder' || rule === 'name' ? rule : 'image';
}
