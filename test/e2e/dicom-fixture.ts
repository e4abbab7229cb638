/**
 * A minimal DICOM Part 10 writer (explicit VR little endian) for test images made at run time, so the
 * viewer's tests need no data on disk: 16-bit signed or unsigned greyscale, one or more frames, a window
 * and a rescale in the header.
 */

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const CT_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

function element(group: number, elem: number, vr: string, value: Uint8Array): Buffer {
  const padded = value.length % 2 ? Buffer.concat([Buffer.from(value), Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]) : Buffer.from(value);
  const long = LONG_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(padded.length, 8);
  else head.writeUInt16LE(padded.length, 6);
  return Buffer.concat([head, padded]);
}

const str = (s: string) => Buffer.from(s, 'latin1');
const us = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const ul = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

export interface DicomSpec {
  rows: number;
  columns: number;
  /** Stored values, frame after frame (rows × columns each). */
  pixels: Int16Array | Uint16Array;
  frames?: number;
  window?: { center: number; width: number };
  rescale?: { slope: number; intercept: number };
  modality?: string;
  /** MONOCHROME1 shows high values dark. */
  photometric?: 'MONOCHROME1' | 'MONOCHROME2';
  patientName?: string;
  patientId?: string;
  studyDescription?: string;
  seriesDescription?: string;
  studyDate?: string;
  uidRoot?: string;
}

export function writeDicom(spec: DicomSpec): Buffer {
  const frames = spec.frames ?? 1;
  if (spec.pixels.length !== spec.rows * spec.columns * frames) throw new Error('pixel count does not match rows × columns × frames');
  const signed = spec.pixels instanceof Int16Array;
  const root = spec.uidRoot ?? `2.25.${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const sop = `${root}.3`;
  const meta = Buffer.concat([
    element(0x0002, 0x0001, 'OB', new Uint8Array([0, 1])),
    element(0x0002, 0x0002, 'UI', str(CT_STORAGE)),
    element(0x0002, 0x0003, 'UI', str(sop)),
    element(0x0002, 0x0010, 'UI', str(EXPLICIT_LE)),
    element(0x0002, 0x0012, 'UI', str('2.25.1234567890')),
  ]);
  const pixelBytes = new Uint8Array(spec.pixels.buffer, spec.pixels.byteOffset, spec.pixels.byteLength);
  const parts = [
    element(0x0008, 0x0016, 'UI', str(CT_STORAGE)),
    element(0x0008, 0x0018, 'UI', str(sop)),
    element(0x0008, 0x0020, 'DA', str(spec.studyDate ?? '20260101')),
    element(0x0008, 0x0060, 'CS', str(spec.modality ?? 'CT')),
    element(0x0008, 0x1030, 'LO', str(spec.studyDescription ?? 'E2E phantom study')),
    element(0x0008, 0x103e, 'LO', str(spec.seriesDescription ?? 'Disc phantom')),
    element(0x0010, 0x0010, 'PN', str(spec.patientName ?? 'Phantom^Disc')),
    element(0x0010, 0x0020, 'LO', str(spec.patientId ?? 'E2E-001')),
    element(0x0020, 0x000d, 'UI', str(`${root}.1`)),
    element(0x0020, 0x000e, 'UI', str(`${root}.2`)),
    element(0x0020, 0x0011, 'IS', str('1')),
    element(0x0020, 0x0013, 'IS', str('1')),
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0004, 'CS', str(spec.photometric ?? 'MONOCHROME2')),
    ...(frames > 1 ? [element(0x0028, 0x0008, 'IS', str(String(frames)))] : []),
    element(0x0028, 0x0010, 'US', us(spec.rows)),
    element(0x0028, 0x0011, 'US', us(spec.columns)),
    element(0x0028, 0x0100, 'US', us(16)),
    element(0x0028, 0x0101, 'US', us(16)),
    element(0x0028, 0x0102, 'US', us(15)),
    element(0x0028, 0x0103, 'US', us(signed ? 1 : 0)),
    ...(spec.window ? [element(0x0028, 0x1050, 'DS', str(String(spec.window.center))), element(0x0028, 0x1051, 'DS', str(String(spec.window.width)))] : []),
    ...(spec.rescale ? [element(0x0028, 0x1052, 'DS', str(String(spec.rescale.intercept))), element(0x0028, 0x1053, 'DS', str(String(spec.rescale.slope)))] : []),
    element(0x7fe0, 0x0010, 'OW', pixelBytes),
  ];
  return Buffer.concat([Buffer.alloc(128), str('DICM'), element(0x0002, 0x0000, 'UL', ul(meta.length)), meta, ...parts]);
}

/**
 * A CT-like phantom: a left-to-right gradient from -1000 to +1000 HU with a bright disc (+1500 HU) at
 * (cx, cy). Each frame moves the disc right by `step` pixels, so frames are told apart.
 */
export function phantom(rows: number, columns: number, frames = 1, step = 20): { pixels: Int16Array; disc: { x: number; y: number; r: number } } {
  const pixels = new Int16Array(rows * columns * frames);
  const r = Math.round(Math.min(rows, columns) / 8);
  const cy = Math.round(rows / 2);
  for (let f = 0; f < frames; f++) {
    const cx = Math.round(columns / 3) + f * step;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const inDisc = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
        pixels[f * rows * columns + y * columns + x] = inDisc ? 1500 : Math.round(-1000 + (2000 * x) / (columns - 1));
      }
    }
  }
  return { pixels, disc: { x: Math.round(columns / 3), y: cy, r } };
}
