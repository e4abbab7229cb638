/** JPEG marker inspection, and the DCT decoder for what libjpeg-turbo's 8-bit build cannot do (12-bit). */

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
  /** True when YCbCr was converted to RGB here. */
  colourConverted: boolean;
}

const ZIGZAG = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
  52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

interface Huffman {
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  blocksPerLine: number;
  blocksPerColumn: number;
  /** Blocks per line including the MCU padding; coefficient storage is laid out on this grid. */
  stride: number;
  rowsOfBlocks: number;
  coeffs: Int32Array;
  pred: number;
  dc?: Huffman;
  ac?: Huffman;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    valptr[l] = k;
    mincode[l] = code;
    code += counts[l - 1];
    k += counts[l - 1];
    maxcode[l] = counts[l - 1] ? code - 1 : -1;
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { maxcode, valptr, mincode, values };
}

/**
 * A baseline, extended (8/12-bit) and progressive Huffman DCT decoder, written because no npm package
 * decodes 12-bit lossy JPEG. Floating-point IDCT: within ±1 of libjpeg's integer IDCT.
 */
export function decodeJpegDct(data: Uint8Array, expect?: { width: number; height: number }): DctDecoded {
  const quant: Int32Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let frame: { precision: number; width: number; height: number; progressive: boolean; components: Component[]; hmax: number; vmax: number; mcusPerLine: number; mcusPerColumn: number } | undefined;
  let restartInterval = 0;
  let adobe: number | undefined;
  let jfif = false;
  let pos = 2;
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new Error('JPEG frame does not start with an SOI marker');

  const u16 = (at: number) => (data[at] << 8) | data[at + 1];
  let done = false;
  while (!done && pos + 1 < data.length) {
    if (data[pos] !== 0xff) {
      pos++;
      continue;
    }
    const marker = data[pos + 1];
    pos += 2;
    if (marker === 0xff) {
      pos--;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0x00) continue;
    if (marker === 0xd9) break;
    const length = u16(pos);
    const end = pos + length;
    if (end > data.length) throw new Error(`JPEG marker 0x${marker.toString(16)} runs past the end of the data`);
    switch (marker) {
      case 0xdb: {
        let p = pos + 2;
        while (p < end) {
          const pq = data[p] >> 4;
          const tq = data[p] & 15;
          p++;
          const table = new Int32Array(64);
          for (let j = 0; j < 64; j++) {
            table[ZIGZAG[j]] = pq ? u16(p + j * 2) : data[p + j];
          }
          p += pq ? 128 : 64;
          quant[tq] = table;
        }
        break;
      }
      case 0xc4: {
        let p = pos + 2;
        while (p < end) {
          const tc = data[p] >> 4;
          const th = data[p] & 15;
          const counts = data.subarray(p + 1, p + 17);
          const total = counts.reduce((a, b) => a + b, 0);
          const values = data.slice(p + 17, p + 17 + total);
          (tc === 0 ? dcTables : acTables)[th] = buildHuffman(counts, values);
          p += 17 + total;
        }
        break;
      }
      case 0xdd:
        restartInterval = u16(pos + 2);
        break;
      case 0xe0:
        if (data[pos + 2] === 0x4a && data[pos + 3] === 0x46) jfif = true;
        break;
      case 0xee:
        if (data[pos + 2] === 0x41 && data[pos + 3] === 0x64) adobe = data[pos + 13];
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2: {
        const precision = data[pos + 2];
        const height = u16(pos + 3);
        const width = u16(pos + 5);
        const n = data[pos + 7];
        if (!width || !height || !n) throw new Error('JPEG frame header declares an empty image');
        // Coefficients are allocated from this header: never for a size the DICOM header did not declare.
        if (expect && (width !== expect.width || height !== expect.height)) throw new Error(`the JPEG frame header declares ${width}x${height} but the header says ${expect.width}x${expect.height}`);
        const components: Component[] = [];
        for (let i = 0; i < n; i++) {
          const b = pos + 8 + i * 3;
          components.push({ id: data[b], h: data[b + 1] >> 4 || 1, v: data[b + 1] & 15 || 1, tq: data[b + 2], blocksPerLine: 0, blocksPerColumn: 0, stride: 0, rowsOfBlocks: 0, coeffs: new Int32Array(0), pred: 0 });
        }
        const hmax = Math.max(...components.map((c) => c.h));
        const vmax = Math.max(...components.map((c) => c.v));
        const mcusPerLine = Math.ceil(width / (8 * hmax));
        const mcusPerColumn = Math.ceil(height / (8 * vmax));
        for (const c of components) {
          c.blocksPerLine = Math.ceil(Math.ceil((width * c.h) / hmax) / 8);
          c.blocksPerColumn = Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
          c.stride = mcusPerLine * c.h;
          c.rowsOfBlocks = mcusPerColumn * c.v;
          c.coeffs = new Int32Array(c.stride * c.rowsOfBlocks * 64);
        }
        frame = { precision, width, height, progressive: marker === 0xc2, components, hmax, vmax, mcusPerLine, mcusPerColumn };
        break;
      }
      case 0xda: {
        if (!frame) throw new Error('JPEG scan before any frame header');
        const ns = data[pos + 2];
        const scanComponents: Component[] = [];
        for (let i = 0; i < ns; i++) {
          const id = data[pos + 3 + i * 2];
          const t = data[pos + 4 + i * 2];
          const c = frame.components.find((x) => x.id === id);
          if (!c) throw new Error(`JPEG scan names unknown component ${id}`);
          c.dc = dcTables[t >> 4];
          c.ac = acTables[t & 15];
          scanComponents.push(c);
        }
        const p = pos + 3 + ns * 2;
        const ss = data[p];
        const se = data[p + 1];
        const ah = data[p + 2] >> 4;
        const al = data[p + 2] & 15;
        pos = decodeScan(data, end, frame, scanComponents, restartInterval, frame.progressive ? { ss, se, ah, al } : undefined);
        continue;
      }
      case 0xc3:
      case 0xc5:
      case 0xc6:
      case 0xc7:
      case 0xc9:
      case 0xca:
      case 0xcb:
      case 0xcd:
      case 0xce:
      case 0xcf:
        throw new Error(`JPEG process SOF${marker - 0xc0} (hierarchical or arithmetic) is not supported`);
      default:
        break;
    }
    pos = end;
    if (marker === 0xd9) done = true;
  }
  if (!frame) throw new Error('JPEG data hold no frame header');
  return output(frame, quant, adobe, jfif);
}

function decodeScan(
  data: Uint8Array,
  start: number,
  frame: { progressive: boolean; mcusPerLine: number; mcusPerColumn: number; components: Component[] },
  components: Component[],
  restartInterval: number,
  progressive: { ss: number; se: number; ah: number; al: number } | undefined,
): number {
  let pos = start;
  let bits = 0;
  let count = 0;
  let ended = false;
  const readBit = (): number => {
    if (count === 0) {
      if (ended || pos >= data.length) return 0;
      bits = data[pos];
      if (bits === 0xff) {
        const next = data[pos + 1];
        if (next === 0) pos += 2;
        else {
          ended = true; // a marker: feed zeros until the scan's MCU count is done
          return 0;
        }
      } else pos++;
      count = 8;
    }
    count--;
    return (bits >> count) & 1;
  };
  const receive = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | readBit();
    return v;
  };
  const extend = (n: number): number => {
    if (n === 0) return 0;
    if (n === 1) return readBit() ? 1 : -1;
    const v = receive(n);
    return v >= 1 << (n - 1) ? v : v + (-1 << n) + 1;
  };
  const decodeHuffman = (t: Huffman | undefined): number => {
    if (!t) throw new Error('JPEG scan uses a Huffman table that was never defined');
    let code = readBit();
    let l = 1;
    while (code > t.maxcode[l]) {
      code = (code << 1) | readBit();
      l++;
      if (l > 16) throw new Error('corrupt JPEG data: invalid Huffman code');
    }
    return t.values[t.valptr[l] + code - t.mincode[l]];
  };

  let eobrun = 0;
  let acState = 0;
  let acNext = 0;
  let acRun = 0;
  const ss = progressive?.ss ?? 0;
  const se = progressive?.se ?? 63;
  const al = progressive?.al ?? 0;

  const decodeBlock = (c: Component, o: number): void => {
    const z = c.coeffs;
    if (!progressive) {
      // Sequential: the whole block whatever Ss/Se say (some writers put Se=0 here; libjpeg copes too).
      const t = decodeHuffman(c.dc);
      c.pred += extend(t);
      z[o] = c.pred;
      for (let k = 1; k < 64; ) {
        const rs = decodeHuffman(c.ac);
        const s = rs & 15;
        const r = rs >> 4;
        if (s === 0) {
          if (r < 15) break;
          k += 16;
          continue;
        }
        k += r;
        if (k > 63) break;
        z[o + ZIGZAG[k]] = extend(s);
        k++;
      }
      return;
    }
    if (ss === 0) {
      if (progressive.ah === 0) {
        const t = decodeHuffman(c.dc);
        c.pred += extend(t);
        z[o] = c.pred * (1 << al);
      } else if (readBit()) z[o] |= 1 << al;
      return;
    }
    if (progressive.ah === 0) {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      for (let k = ss; k <= se; ) {
        const rs = decodeHuffman(c.ac);
        const s = rs & 15;
        const r = rs >> 4;
        if (s === 0) {
          if (r < 15) {
            eobrun = receive(r) + (1 << r) - 1;
            break;
          }
          k += 16;
          continue;
        }
        k += r;
        if (k > 63) break;
        z[o + ZIGZAG[k]] = extend(s) * (1 << al);
        k++;
      }
      return;
    }
    // AC refinement (G.1.2.3), as a small state machine over the band.
    for (let k = ss; k <= se; k++) {
      const at = o + ZIGZAG[k];
      const sign = z[at] < 0 ? -1 : 1;
      switch (acState) {
        case 0: {
          const rs = decodeHuffman(c.ac);
          const s = rs & 15;
          const r = rs >> 4;
          if (s === 0) {
            if (r < 15) {
              eobrun = receive(r) + (1 << r);
              acState = 4;
            } else {
              acRun = 16;
              acState = 1;
            }
          } else {
            acNext = extend(s);
            acRun = r;
            acState = r ? 2 : 3;
          }
          k--; // re-examine this coefficient in the new state
          continue;
        }
        case 1:
        case 2:
          if (z[at]) z[at] += sign * (readBit() << al);
          else {
            acRun--;
            if (acRun === 0) acState = acState === 2 ? 3 : 0;
          }
          break;
        case 3:
          if (z[at]) z[at] += sign * (readBit() << al);
          else {
            z[at] = acNext * (1 << al);
            acState = 0;
          }
          break;
        case 4:
          if (z[at]) z[at] += sign * (readBit() << al);
          break;
      }
    }
    if (acState === 4) {
      eobrun--;
      if (eobrun === 0) acState = 0;
    }
  };

  const single = components.length === 1;
  const total = single ? components[0].blocksPerLine * components[0].blocksPerColumn : frame.mcusPerLine * frame.mcusPerColumn;
  const interval = restartInterval || total;
  for (let n = 0; n < total; n++) {
    if (n > 0 && n % interval === 0) {
      // Restart: byte-align, step over RSTn, reset predictions.
      count = 0;
      ended = false;
      while (pos + 1 < data.length && !(data[pos] === 0xff && data[pos + 1] >= 0xd0 && data[pos + 1] <= 0xd7)) pos++;
      pos += 2;
      for (const c of components) c.pred = 0;
      eobrun = 0;
      acState = 0;
    }
    if (single) {
      const c = components[0];
      const row = Math.floor(n / c.blocksPerLine);
      const col = n % c.blocksPerLine;
      decodeBlock(c, (row * c.stride + col) * 64);
    } else {
      const mcuRow = Math.floor(n / frame.mcusPerLine);
      const mcuCol = n % frame.mcusPerLine;
      for (const c of components) {
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) {
            decodeBlock(c, ((mcuRow * c.v + v) * c.stride + mcuCol * c.h + h) * 64);
          }
        }
      }
    }
  }
  for (const c of components) c.pred = 0;
  // The next marker (the scan's data end there): skip to it.
  while (pos + 1 < data.length && !(data[pos] === 0xff && data[pos + 1] !== 0 && !(data[pos + 1] >= 0xd0 && data[pos + 1] <= 0xd7))) pos++;
  return pos;
}

const COS = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) for (let u = 0; u < 8; u++) t[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) / 2;
  return t;
})();

function output(
  frame: { precision: number; width: number; height: number; components: Component[]; hmax: number; vmax: number },
  quant: Int32Array[],
  adobe: number | undefined,
  jfif: boolean,
): DctDecoded {
  const { width, height, precision } = frame;
  const max = 2 ** precision - 1;
  const shift = 2 ** (precision - 1);
  const planes: Float32Array[] = [];
  const tmp = new Float64Array(64);
  for (const c of frame.components) {
    const q = quant[c.tq];
    if (!q) throw new Error(`JPEG component ${c.id} uses quantisation table ${c.tq}, which was never defined`);
    const w = c.stride * 8;
    const plane = new Float32Array(w * c.rowsOfBlocks * 8);
    for (let by = 0; by < c.rowsOfBlocks; by++) {
      for (let bx = 0; bx < c.stride; bx++) {
        const o = (by * c.stride + bx) * 64;
        // rows: tmp[y][x] = sum_u C(u) F(y,u) cos
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            let sum = 0;
            for (let u = 0; u < 8; u++) {
              const f = c.coeffs[o + y * 8 + u];
              if (f) sum += f * q[y * 8 + u] * COS[x * 8 + u];
            }
            tmp[y * 8 + x] = sum;
          }
        }
        for (let x = 0; x < 8; x++) {
          for (let y = 0; y < 8; y++) {
            let sum = 0;
            for (let v = 0; v < 8; v++) sum += tmp[v * 8 + x] * COS[y * 8 + v];
            plane[(by * 8 + y) * w + bx * 8 + x] = sum + shift;
          }
        }
      }
    }
    planes.push(plane);
  }
  const n = frame.components.length;
  const samples = precision > 8 ? new Uint16Array(width * height * n) : new Uint8Array(width * height * n);
  for (let k = 0; k < n; k++) {
    const c = frame.components[k];
    const plane = planes[k];
    const w = c.stride * 8;
    for (let y = 0; y < height; y++) {
      const sy = Math.floor((y * c.v) / frame.vmax);
      for (let x = 0; x < width; x++) {
        const v = Math.round(plane[sy * w + Math.floor((x * c.h) / frame.hmax)]);
        samples[(y * width + x) * n + k] = v < 0 ? 0 : v > max ? max : v;
      }
    }
  }
  let colourConverted = false;
  if (n === 3) {
    const ids = frame.components.map((c) => c.id);
    const rgbIds = ids[0] === 0x52 && ids[1] === 0x47 && ids[2] === 0x42;
    const ycc = adobe !== undefined ? adobe !== 0 : jfif || !rgbIds;
    if (ycc) {
      for (let i = 0; i < samples.length; i += 3) {
        const y = samples[i];
        const cb = samples[i + 1] - shift;
        const cr = samples[i + 2] - shift;
        const clamp = (v: number) => (v < 0 ? 0 : v > max ? max : Math.round(v));
        samples[i] = clamp(y + 1.402 * cr);
        samples[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
        samples[i + 2] = clamp(y + 1.772 * cb);
      }
    }
    colourConverted = true;
  }
  return { width, height, components: n, samples, colourConverted };
}
