/**
 * What a codestream declares about its image (JPEG SOF, JPEG-LS SOF55/LSE/SOS, JPEG 2000 and HTJ2K SIZ), read
 * from its marker segments before any codec sees the data. A decoder allocates for what the codestream says,
 * not for the DICOM header: a 6 KB JPEG 2000 whose SIZ says 16000² took 2.5 GB inside OpenJPEG before the
 * size was compared after decoding. Now a codestream that disagrees with the header is refused unopened.
 */
import { jpegInfo } from './jpeg.ts';

export interface Declared {
  width: number;
  height: number;
  components: number;
  precision: number;
}

export interface HeaderLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
}

/** JPEG 2000 / HTJ2K: the SIZ segment right after SOC (a JP2 wrapper is searched through). */
export function j2kDeclared(bytes: Uint8Array): Declared {
  let at = -1;
  for (let i = 0; i + 4 <= bytes.length && i < 4096; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0x4f && bytes[i + 2] === 0xff && bytes[i + 3] === 0x51) {
      at = i + 2;
      break;
    }
  }
  if (at < 0 || at + 40 > bytes.length) throw new Error('the JPEG 2000 codestream has no readable SIZ marker segment');
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, bytes.length - at);
  const xsiz = view.getUint32(6);
  const ysiz = view.getUint32(10);
  const xo = view.getUint32(14);
  const yo = view.getUint32(18);
  const xt = view.getUint32(22);
  const yt = view.getUint32(26);
  const xto = view.getUint32(30);
  const yto = view.getUint32(34);
  const csiz = view.getUint16(38);
  if (xsiz <= xo || ysiz <= yo) throw new Error(`the JPEG 2000 SIZ declares an empty image (${xsiz}-${xo} by ${ysiz}-${yo})`);
  if (!xt || !yt || xto > xo || yto > yo) throw new Error('the JPEG 2000 SIZ declares an invalid tiling');
  const tiles = Math.ceil((xsiz - xto) / xt) * Math.ceil((ysiz - yto) / yt);
  if (tiles > 65535) throw new Error(`the JPEG 2000 SIZ declares ${tiles} tiles (at most 65535)`);
  const precision = at + 41 <= bytes.length ? (bytes[at + 40] & 0x7f) + 1 : 0;
  return { width: xsiz - xo, height: ysiz - yo, components: csiz, precision };
}

/** JPEG-LS: SOF55 (and the LSE preset parameters and SOS NEAR value, which must be consistent). */
export function jpegLsDeclared(bytes: Uint8Array): Declared {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('JPEG-LS frame does not start with an SOI marker');
  let i = 2;
  let sof: Declared | undefined;
  let maxval = 0;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) throw new Error('the JPEG-LS marker segments are damaged');
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (length < 2 || i + 2 + length > bytes.length) throw new Error('a JPEG-LS marker segment runs past the end of the frame');
    if (marker === 0xf7) {
      if (length < 11) throw new Error('the JPEG-LS frame header is too short');
      sof = { precision: bytes[i + 4], height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8], components: bytes[i + 9] };
      if (sof.precision < 2 || sof.precision > 16) throw new Error(`the JPEG-LS frame header declares ${sof.precision}-bit samples (2 to 16 allowed)`);
    } else if (marker === 0xf8 && bytes[i + 4] === 1 && length >= 13) {
      maxval = (bytes[i + 5] << 8) | bytes[i + 6];
      const t1 = (bytes[i + 7] << 8) | bytes[i + 8];
      const t2 = (bytes[i + 9] << 8) | bytes[i + 10];
      const t3 = (bytes[i + 11] << 8) | bytes[i + 12];
      if (sof && maxval >= 2 ** sof.precision) throw new Error(`the JPEG-LS preset MAXVAL ${maxval} does not fit ${sof.precision}-bit samples`);
      if ((t1 && t2 && t1 > t2) || (t2 && t3 && t2 > t3)) throw new Error('the JPEG-LS preset thresholds are out of order');
    } else if (marker === 0xda) {
      if (!sof) throw new Error('JPEG-LS scan before the frame header');
      const ns = bytes[i + 4];
      const near = bytes[i + 5 + ns * 2];
      const top = maxval || 2 ** sof.precision - 1;
      if (near > Math.min(255, Math.floor(top / 2))) throw new Error(`the JPEG-LS scan declares NEAR ${near}, more than its sample range allows`);
      return sof;
    }
    i += 2 + length;
  }
  if (sof) return sof;
  throw new Error('JPEG-LS frame has no frame header (SOF55)');
}

export function jpegDeclared(bytes: Uint8Array): Declared {
  const info = jpegInfo(bytes);
  return { width: info.width, height: info.height, components: info.components, precision: info.precision };
}

/** Throws (before any decoding) when what the codestream declares is not the header's image. */
export function checkDeclared(kind: string, d: Declared, l: HeaderLayout): void {
  if (d.width !== l.columns || d.height !== l.rows) throw new Error(`the ${kind} codestream declares ${d.width}x${d.height} but the header says ${l.columns}x${l.rows}`);
  if (d.components !== l.samplesPerPixel) throw new Error(`the ${kind} codestream has ${d.components} components but the header says ${l.samplesPerPixel} samples per pixel`);
}

/**
 * The most scans a JPEG stream may hold. Encoders write one per component for a sequential image and about
 * ten for a progressive one (libjpeg's default script), a few dozen for exotic scripts. A decoder passes over
 * every block of the image once per scan, so a scan of a few bytes (one run of end-of-block codes) costs as
 * much as a real one: a 650 KB progressive JPEG of 4096x4000 with 20,000 such scans kept the raster loader
 * busy for 52 s, and a larger one for many minutes, where no time limit can stop it (libjpeg reads every
 * scan before it returns a row). libtiff refuses JPEG-in-TIFF streams past the same 100
 * (LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER); libjpeg-turbo's own tools offer the same guard (djpeg -maxscans).
 */
export const MAX_JPEG_SCANS = 100;

/** Why a stream with more than MAX_JPEG_SCANS scans is refused, said the same for a DICOM frame and a file. */
export function tooManyScans(what: string): string {
  return `the ${what} holds more than ${MAX_JPEG_SCANS} scans; encoders write at most a few dozen, and each costs a decoder a pass over the whole image (the file was made to keep decoders busy)`;
}

/**
 * What a JPEG stream's markers declare, entropy-coded data skipped: every frame header (SOFn; a stream may
 * carry a second SOF that a decoder would allocate for, so all of them must agree with the DICOM header, not
 * just the first; none when the stream has none) and its scans (SOS), counted up to one past MAX_JPEG_SCANS.
 */
export function jpegStructure(bytes: Uint8Array): { frames: Declared[]; scans: number } {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('JPEG frame does not start with an SOI marker');
  const frames: Declared[] = [];
  let scans = 0;
  let i = 2;
  while (i + 4 <= bytes.length && scans <= MAX_JPEG_SCANS) {
    if (bytes[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = bytes[i + 1];
    if (marker === 0xff || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0xd8) {
      i += marker === 0xff ? 1 : 2;
      continue;
    }
    if (marker === 0xd9) break;
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc && i + 9 < bytes.length) {
      frames.push({ precision: bytes[i + 4], height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8], components: bytes[i + 9] });
    }
    i += 2 + length;
    if (marker === 0xda) {
      scans++;
      // Entropy-coded data: up to the next marker that is not a stuffed byte or a restart marker (indexOf
      // skips the data between 0xFF bytes natively: a 200 MB file is walked in milliseconds, not a second).
      while (i + 1 < bytes.length) {
        const ff = bytes.indexOf(0xff, i);
        if (ff < 0 || ff + 1 >= bytes.length) {
          i = bytes.length;
          break;
        }
        const next = bytes[ff + 1];
        if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7)) {
          i = ff;
          break;
        }
        i = ff + 1;
      }
    }
  }
  return { frames, scans };
}

/**
 * Throws (before any decoding) when a JPEG stream is not one a decoder may be given: more scans than any
 * encoder writes. Returns its frame headers, for the caller to compare with what it expects.
 */
export function checkJpegStream(bytes: Uint8Array): Declared[] {
  const { frames, scans } = jpegStructure(bytes);
  if (frames.length === 0) throw new Error('JPEG frame has no start-of-frame marker');
  if (scans > MAX_JPEG_SCANS) throw new Error(tooManyScans('JPEG stream'));
  return frames;
}
