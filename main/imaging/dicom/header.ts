/** The image-relevant header fields of a parsed dataset, as plain values the pixel pipeline can trust. */
import type { DataSet, Element } from './parse.ts';
import type { Lut, Palette } from '../pixels/lut.ts';
import { MAX_SEGMENTED_LUT_WORDS, expandSegmentedLut } from '../pixels/lut.ts';
import { StudioError } from '../../../preload/contract.ts';

export interface WindowSpec {
  center: number;
  width: number;
  explanation?: string;
}

export interface DicomHeader {
  sopClassUid?: string;
  modality?: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  planarConfiguration: 0 | 1;
  photometric: string;
  /** 32 or 64 for Float / Double Float Pixel Data; 0 for integer pixel data. */
  floatBits: 0 | 32 | 64;
  rescale: { slope: number; intercept: number; type?: string };
  /** Enhanced multi-frame objects may rescale each frame differently (Per-Frame Functional Groups). */
  frameRescale?: (frame: number) => { slope: number; intercept: number };
  modalityLut?: Lut;
  windows: WindowSpec[];
  voiLuts: Lut[];
  palette?: Palette;
  study: { uid?: string; description?: string; date?: string; patientName?: string; patientId?: string };
  series: { uid?: string; description?: string; number?: number };
  instance: { uid?: string; number?: number };
}

export function str(ds: DataSet, tag: string, index?: number): string | undefined {
  try {
    const v = ds.string(tag, index);
    return v === undefined || v === '' ? undefined : v.replace(/\0/g, '').trim() || undefined;
  } catch {
    return undefined;
  }
}

function num(ds: DataSet, tag: string, index = 0): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return undefined;
  try {
    const v = ds.floatString(tag, index);
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function us(ds: DataSet, tag: string, index = 0): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length < 2 * (index + 1)) return undefined;
  return ds.uint16(tag, index);
}

function multi(ds: DataSet, tag: string): number[] {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return [];
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = num(ds, tag, i);
    if (v !== undefined) out.push(v);
  }
  return out;
}

function firstItem(ds: DataSet | undefined, tag: string, index = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[index]?.dataSet;
}

/** Functional-group lookup for enhanced multi-frame objects: per-frame first, then shared. */
function functionalGroup(ds: DataSet, frame: number, macroTag: string): DataSet | undefined {
  return firstItem(firstItem(ds, 'x52009230', frame), macroTag) ?? firstItem(firstItem(ds, 'x52009229'), macroTag);
}

/** LUT Descriptor + LUT Data (modality or VOI LUT items). */
function readLut(item: DataSet, signedFirst: boolean): Lut | undefined {
  const desc = item.elements.x00283002;
  const data = item.elements.x00283006;
  if (!desc || !data || desc.length < 6) return undefined;
  let entries = item.uint16('x00283002', 0) ?? 0;
  if (entries === 0) entries = 65536;
  let first = item.uint16('x00283002', 1) ?? 0;
  if (signedFirst && first > 32767) first -= 65536;
  const bits = item.uint16('x00283002', 2) ?? 16;
  const table = readLutWords(item, data, entries, bits);
  if (!table) return undefined;
  return { first, bits, data: table, explanation: str(item, 'x00283003') };
}

/** LUT data are 16-bit words, except that some writers pack 8-bit entries one per byte. */
function readLutWords(ds: DataSet, el: Element, entries: number, bits: number): Uint16Array | undefined {
  const table = new Uint16Array(entries);
  if (bits <= 8 && el.length === entries) {
    for (let i = 0; i < entries; i++) table[i] = ds.byteArray[el.dataOffset + i];
    return table;
  }
  if (el.length < entries * 2) return undefined;
  for (let i = 0; i < entries; i++) table[i] = ds.uint16(el.tag, i) ?? 0;
  return table;
}

function readPalette(ds: DataSet): Palette | undefined {
  const channels: Uint16Array[] = [];
  let first = 0;
  let bits = 16;
  for (const [d, plain, segmented] of [
    ['x00281101', 'x00281201', 'x00281221'],
    ['x00281102', 'x00281202', 'x00281222'],
    ['x00281103', 'x00281203', 'x00281223'],
  ]) {
    const desc = ds.elements[d];
    if (!desc || desc.length < 6) return undefined;
    let entries = ds.uint16(d, 0) ?? 0;
    if (entries === 0) entries = 65536;
    first = ds.uint16(d, 1) ?? 0;
    bits = ds.uint16(d, 2) ?? 16;
    const seg = ds.elements[segmented];
    const plainEl = ds.elements[plain];
    let table: Uint16Array | undefined;
    if (seg && seg.length >= 2) {
      if (seg.length >> 1 > MAX_SEGMENTED_LUT_WORDS) {
        throw new StudioError('DECODE_FAILED', `Segmented Palette Color LUT: the data hold ${seg.length >> 1} words; a table of ${entries} entries needs at most ${MAX_SEGMENTED_LUT_WORDS}`);
      }
      const words = new Uint16Array(seg.length >> 1);
      for (let i = 0; i < words.length; i++) words[i] = ds.uint16(segmented, i) ?? 0;
      table = expandSegmentedLut(words, entries);
    } else if (plainEl) table = readLutWords(ds, plainEl, entries, bits);
    if (!table) return undefined;
    channels.push(table);
  }
  return { first, bits, red: channels[0], green: channels[1], blue: channels[2] };
}

export function readHeader(ds: DataSet): DicomHeader {
  const pixelRepresentation = (us(ds, 'x00280103') ?? 0) === 1 ? 1 : 0;
  const floatBits = ds.elements.x7fe00009 ? 64 : ds.elements.x7fe00008 ? 32 : 0;
  const bitsAllocated = us(ds, 'x00280100') ?? (floatBits || 0);
  const bitsStored = us(ds, 'x00280101') ?? bitsAllocated;
  const frames = Math.max(1, Math.trunc(num(ds, 'x00280008') ?? 1));

  // Enhanced objects keep rescale and windows in functional groups; frame 0's values describe the image.
  const pvt = functionalGroup(ds, 0, 'x00289145');
  const rescaleSource = pvt?.elements.x00281053 ? pvt : ds;
  const slope = num(rescaleSource, 'x00281053') ?? 1;
  const intercept = num(rescaleSource, 'x00281052') ?? 0;

  const modalityLutItem = firstItem(ds, 'x00283000');
  const modalityLut = modalityLutItem ? readLut(modalityLutItem, pixelRepresentation === 1) : undefined;

  const voiSource = functionalGroup(ds, 0, 'x00289132') ?? ds;
  const centers = multi(voiSource, 'x00281050');
  const widths = multi(voiSource, 'x00281051');
  const windows: WindowSpec[] = [];
  for (let i = 0; i < Math.min(centers.length, widths.length); i++) {
    if (widths[i] > 0) windows.push({ center: centers[i], width: widths[i], explanation: str(voiSource, 'x00281055', i) });
  }
  const voiLuts: Lut[] = [];
  for (const item of ds.elements.x00283010?.items ?? []) {
    const lut = item.dataSet && readLut(item.dataSet, pixelRepresentation === 1 && !modalityLut && slope === 1 && intercept === 0);
    if (lut) voiLuts.push(lut);
  }

  const perFrame = ds.elements.x52009230?.items;
  const frameRescale =
    perFrame && perFrame.some((item) => item.dataSet?.elements.x00289145)
      ? (frame: number) => {
          const group = functionalGroup(ds, frame, 'x00289145');
          return { slope: (group && num(group, 'x00281053')) ?? slope, intercept: (group && num(group, 'x00281052')) ?? intercept };
        }
      : undefined;

  const photometric = (str(ds, 'x00280004') ?? (us(ds, 'x00280002') === 3 ? 'RGB' : 'MONOCHROME2')).toUpperCase();
  return {
    sopClassUid: str(ds, 'x00080016') ?? str(ds, 'x00020002'),
    modality: str(ds, 'x00080060'),
    rows: us(ds, 'x00280010') ?? 0,
    columns: us(ds, 'x00280011') ?? 0,
    frames,
    samplesPerPixel: us(ds, 'x00280002') ?? 1,
    bitsAllocated,
    bitsStored: floatBits ? bitsAllocated : bitsStored,
    highBit: us(ds, 'x00280102') ?? bitsStored - 1,
    pixelRepresentation,
    planarConfiguration: (us(ds, 'x00280006') ?? 0) === 1 ? 1 : 0,
    photometric,
    floatBits,
    rescale: { slope, intercept, type: str(rescaleSource, 'x00281054') },
    frameRescale,
    modalityLut,
    windows,
    voiLuts,
    palette: photometric === 'PALETTE COLOR' ? readPalette(ds) : undefined,
    study: {
      uid: str(ds, 'x0020000d'),
      description: str(ds, 'x00081030'),
      date: str(ds, 'x00080020'),
      patientName: str(ds, 'x00100010'),
      patientId: str(ds, 'x00100020'),
    },
    series: { uid: str(ds, 'x0020000e'), description: str(ds, 'x0008103e'), number: num(ds, 'x00200011') },
    instance: { uid: str(ds, 'x00080018'), number: num(ds, 'x00200013') },
  };
}
