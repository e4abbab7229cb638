/**
 * Training's own data steps: augmentation of decoded samples and the lesion-map targets. What a sample is,
 * splits and decoding live in main/datasets.
 */
import { AUGMENTATION_RANGES, type AugmentationPreset } from '../../preload/contract.ts';
import { rng, type Decoded } from '../datasets/index.ts';

export interface Augmented {
  image: Float32Array;
  mask: Uint8Array;
}

/**
 * Random flips, rotation, scale, shift, brightness, contrast, gamma, speckle, corner boxes and colour
 * (white balance, saturation) within a preset's ranges, applied to the letterboxed bytes with one inverse affine map (bilinear for the image, nearest
 * for the mask). The standard preset draws exactly the numbers it always drew, so its runs reproduce.
 */
export function augment(d: Decoded, random: () => number, enabled = true, preset: AugmentationPreset = 'standard'): Augmented {
  const S = d.box.size;
  const image = new Float32Array(S * S * 3);
  if (!enabled) {
    for (let i = 0; i < image.length; i++) image[i] = d.image[i] / 255;
    return { image, mask: d.mask };
  }
  const r = AUGMENTATION_RANGES[preset];
  const flipX = random() < 0.5;
  const flipY = random() < 0.5;
  const angle = ((random() * 2 - 1) * r.rotationDeg * Math.PI) / 180;
  const scale = r.scale.from + random() * r.scale.span;
  const brightness = (random() * 2 - 1) * r.brightness;
  const contrast = r.contrast.from + random() * r.contrast.span;
  const tx = r.translate ? (random() * 2 - 1) * r.translate * S : 0;
  const ty = r.translate ? (random() * 2 - 1) * r.translate * S : 0;
  const gamma = r.gamma !== 1 ? Math.exp((random() * 2 - 1) * Math.log(r.gamma)) : 1;
  // The noise has its own stream, seeded from the main one, so it costs the main stream one draw.
  const noise = r.speckle ? gaussian(rng(Math.floor(random() * 4294967296))) : undefined;
  // So has the corner box, for the same reason: presets without it draw what they always drew.
  const box = r.occlusion ? cornerBox(rng(Math.floor(random() * 4294967296)), r.occlusion, d.box) : undefined;
  // And the colour draw.
  const tint = r.colour ? colourDraw(rng(Math.floor(random() * 4294967296)), r.colour) : undefined;
  // The tone steps every preset ends with: speckle, contrast about mid-grey, brightness, clipped.
  const tone = (v: number, speckle: number) => Math.min(1, Math.max(0, (v * speckle - 0.5) * contrast + 0.5 + brightness));
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const c = (S - 1) / 2;
  const mask = new Uint8Array(S * S);
  const src = d.image;
  // Gamma on the 256 source levels, before interpolation: a pow per pixel would cost more than the rest.
  const level = gamma !== 1 ? Float32Array.from({ length: 256 }, (_, i) => (i / 255) ** gamma) : undefined;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      // Output pixel → source pixel: undo flip and shift, then inverse rotate/scale about the centre.
      const ox = (flipX ? S - 1 - x : x) - c - tx;
      const oy = (flipY ? S - 1 - y : y) - c - ty;
      const sx = cos * ox + sin * oy + c;
      const sy = -sin * ox + cos * oy + c;
      const o = (y * S + x) * 3;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < 0 || y0 < 0 || x0 >= S - 1 || y0 >= S - 1) continue;
      const fx = sx - x0;
      const fy = sy - y0;
      const i00 = (y0 * S + x0) * 3;
      const i01 = i00 + 3;
      const i10 = i00 + S * 3;
      const i11 = i10 + 3;
      const speckle = noise ? 1 + r.speckle * noise() : 1;
      for (let ch = 0; ch < 3; ch++) {
        // Two branches so the standard preset computes exactly what it always did (no table).
        const v = level
          ? (level[src[i00 + ch]] * (1 - fx) + level[src[i01 + ch]] * fx) * (1 - fy) + (level[src[i10 + ch]] * (1 - fx) + level[src[i11 + ch]] * fx) * fy
          : ((src[i00 + ch] * (1 - fx) + src[i01 + ch] * fx) * (1 - fy) + (src[i10 + ch] * (1 - fx) + src[i11 + ch] * fx) * fy) / 255;
        image[o + ch] = tint ? v : tone(v, speckle);
      }
      if (tint) {
        // White balance, then saturation about the pixel's luma (BT.601), then the shared tone steps.
        const cr = image[o] * tint.gains[0];
        const cg = image[o + 1] * tint.gains[1];
        const cb = image[o + 2] * tint.gains[2];
        const luma = 0.299 * cr + 0.587 * cg + 0.114 * cb;
        image[o] = tone(luma + tint.saturation * (cr - luma), speckle);
        image[o + 1] = tone(luma + tint.saturation * (cg - luma), speckle);
        image[o + 2] = tone(luma + tint.saturation * (cb - luma), speckle);
      }
      const mx = Math.round(sx);
      const my = Math.round(sy);
      mask[y * S + x] = d.mask[my * S + mx];
    }
  }
  if (box) {
    // Black where the box hides the frame, and no lesion there: what cannot be seen is not a target.
    for (let y = box.y0; y < box.y1; y++) {
      image.fill(0, (y * S + box.x0) * 3, (y * S + box.x1) * 3);
      mask.fill(0, y * S + box.x0, y * S + box.x1);
    }
  }
  return { image, mask };
}

/** One image's white balance (a gain per channel, log-uniform in [1/(1+g), 1+g]) and saturation. */
function colourDraw(random: () => number, c: { gain: number; saturation: { from: number; span: number } }): { gains: [number, number, number]; saturation: number } {
  const g = () => Math.exp((random() * 2 - 1) * Math.log(1 + c.gain));
  return { gains: [g(), g(), g()], saturation: c.saturation.from + random() * c.saturation.span };
}

/** With probability `p`, a box over one corner of the image's region in the letterbox (20–35% of each side). */
function cornerBox(random: () => number, p: number, region: { left: number; top: number; width: number; height: number }): { x0: number; y0: number; x1: number; y1: number } | undefined {
  if (random() >= p) return undefined;
  const w = Math.round(region.width * (0.2 + random() * 0.15));
  const h = Math.round(region.height * (0.2 + random() * 0.15));
  const right = random() < 0.5;
  const bottom = random() < 0.5;
  const x0 = right ? region.left + region.width - w : region.left;
  const y0 = bottom ? region.top + region.height - h : region.top;
  return { x0, y0, x1: x0 + w, y1: y0 + h };
}

/** Standard normal draws from a uniform stream (Box–Muller, both of each pair used). */
export function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/** The S/4 lesion-map target: the fraction of each 4×4 cell covered by lesion (area averaging). */
export function downsampleMask(mask: Uint8Array, size: number, factor = 4): Float32Array {
  const s = size / factor;
  const out = new Float32Array(s * s);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < size; y++) {
    const row = (Math.floor(y / factor) * s) | 0;
    for (let x = 0; x < size; x++) if (mask[y * size + x]) out[row + Math.floor(x / factor)] += norm;
  }
  return out;
}
