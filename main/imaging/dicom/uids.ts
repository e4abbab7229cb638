/** Transfer syntaxes this decoder knows, and names for the SOP classes people meet as non-images. */

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegExtended35: '1.2.840.10008.1.2.4.52',
  jpegSpectral: '1.2.840.10008.1.2.4.53',
  jpegFull: '1.2.840.10008.1.2.4.55',
  jpegLossless: '1.2.840.10008.1.2.4.57',
  jpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNear: '1.2.840.10008.1.2.4.81',
  j2kLossless: '1.2.840.10008.1.2.4.90',
  j2k: '1.2.840.10008.1.2.4.91',
  htj2kLossless: '1.2.840.10008.1.2.4.201',
  htj2kRpcl: '1.2.840.10008.1.2.4.202',
  htj2k: '1.2.840.10008.1.2.4.203',
  rle: '1.2.840.10008.1.2.5',
  deflatedImageFrame: '1.2.840.10008.1.2.8.1',
} as const;

export const TS_NAMES: Record<string, string> = {
  [TS.implicitLE]: 'Implicit VR Little Endian',
  [TS.explicitLE]: 'Explicit VR Little Endian',
  [TS.deflatedLE]: 'Deflated Explicit VR Little Endian',
  [TS.explicitBE]: 'Explicit VR Big Endian',
  [TS.jpegBaseline]: 'JPEG Baseline (Process 1)',
  [TS.jpegExtended]: 'JPEG Extended (Process 2 & 4)',
  [TS.jpegExtended35]: 'JPEG Extended (Process 3 & 5)',
  [TS.jpegSpectral]: 'JPEG Spectral Selection (Process 6 & 8)',
  [TS.jpegFull]: 'JPEG Full Progression (Process 10 & 12)',
  [TS.jpegLossless]: 'JPEG Lossless (Process 14)',
  [TS.jpegLosslessSV1]: 'JPEG Lossless SV1 (Process 14, Selection Value 1)',
  [TS.jpegLsLossless]: 'JPEG-LS Lossless',
  [TS.jpegLsNear]: 'JPEG-LS Near-Lossless',
  [TS.j2kLossless]: 'JPEG 2000 Lossless Only',
  [TS.j2k]: 'JPEG 2000',
  [TS.htj2kLossless]: 'HTJ2K Lossless',
  [TS.htj2kRpcl]: 'HTJ2K Lossless RPCL',
  [TS.htj2k]: 'HTJ2K',
  [TS.rle]: 'RLE Lossless',
  [TS.deflatedImageFrame]: 'Deflated Image Frame Compression',
};

/** Syntaxes whose pixel data are stored as-is (after the dataset's own byte order and deflation). */
export const NATIVE_SYNTAXES = new Set<string>([TS.implicitLE, TS.explicitLE, TS.deflatedLE, TS.explicitBE]);

/** Syntaxes that may lose information: a reference comparison allows a tolerance for these. */
export const LOSSY_SYNTAXES = new Set<string>([TS.jpegBaseline, TS.jpegExtended, TS.jpegExtended35, TS.jpegSpectral, TS.jpegFull, TS.jpegLsNear, TS.j2k, TS.htj2k]);

const SOP_NAMES: Record<string, string> = {
  '1.2.840.10008.1.3.10': 'Media Storage Directory (DICOMDIR)',
  '1.2.840.10008.5.1.4.1.1.88.11': 'Basic Text SR',
  '1.2.840.10008.5.1.4.1.1.88.22': 'Enhanced SR',
  '1.2.840.10008.5.1.4.1.1.88.33': 'Comprehensive SR',
  '1.2.840.10008.5.1.4.1.1.88.59': 'Key Object Selection',
  '1.2.840.10008.5.1.4.1.1.481.2': 'RT Dose',
  '1.2.840.10008.5.1.4.1.1.481.3': 'RT Structure Set',
  '1.2.840.10008.5.1.4.1.1.481.5': 'RT Plan',
  '1.2.840.10008.5.1.4.1.1.481.8': 'RT Ion Plan',
  '1.2.840.10008.5.1.4.1.1.66.4': 'Segmentation',
  '1.2.840.10008.5.1.4.1.1.104.1': 'Encapsulated PDF',
  '1.2.840.10008.5.1.4.1.1.9.1.1': '12-lead ECG Waveform',
  '1.2.840.10008.5.1.4.1.1.9.2.1': 'Hemodynamic Waveform',
  '1.2.840.10008.5.1.4.1.1.11.1': 'Grayscale Softcopy Presentation State',
};

export function sopClassName(uid: string | undefined): string | undefined {
  return uid ? SOP_NAMES[uid] : undefined;
}
