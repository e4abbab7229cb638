/** JPEG marker inspection, and the DCT decoder for what libjpeg-turbo's 8-bit build cannot do (12-bit). */
import { StudioError } from '../../../preload/contract.ts';

export interface JpegInfo {
  sof: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  lossless: boolean;
  progressive: boolean;
  arithmetic: boolean;
}

export function jpegInfo(bytes: Uint8Array): JpegInfo {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('JPEG frame does not start with an SOI marker');
  let i = 2;
  while (i + 4 < bytes.length) {
    if (bytes[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = bytes[i + 1];
    if (marker === 0xff || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) {
      i += marker === 0xff ? 1 : 2;
      continue;
    }
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 >= bytes.length) break;
      return {
        sof: marker,
        precision: bytes[i + 4],
        height: (bytes[i + 5] << 8) | bytes[i + 6],
        width: (bytes[i + 7] << 8) | bytes[i + 8],
        components: bytes[i + 9],
        lossless: marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf,
        progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce,
        arithmetic: marker >= 0xc9,
      };
    }
    if (marker === 0xda) break;
    i += 2 + length;
  }
  throw new Error('JPEG frame has no start-of-frame marker');
}

export interface DctDecoded {
  width: number;
  height: number;
  components: number;
  samples: Uint16Array | Uint8Array;
  colourConverted: boolean;
}

export function decodeJpegDct(bytes: Uint8Array): DctDecoded {
  const info = jpegInfo(bytes);
  throw new StudioError('UNSUPPORTED', `${info.precision}-bit lossy JPEG (SOF${(info.sof - 0xc0).toString()}) has no decoder in this build: no npm codec decodes 12-bit DCT JPEG`);
}
