/**
 * The same frames as other devices would render them, applied to a letterboxed RGB frame. `studio evaluate
 * --renderings` scores a model on each (lesion-free frames too: a device renders normal tissue the same
 * way), so a card says how its figures move at a hospital whose devices it never saw. Two sets, by the
 * kind of image the card says the model is for:
 * - colour (endoscopy cameras and processors): white balance, saturation, tone curve, sharpness. Most lie
 *   outside the 'devices' augmentation's ranges (gains within 15%, saturation 0.7–1.3, gamma 0.8–1.25), so
 *   a model trained with it is not scored on what it trained on;
 * - grey (ultrasound machines and their settings): overall gain, dynamic range, contrast, speckle,
 *   resolution. A grey frame stays grey.
 * `renderFrame` applies one to a letterboxed frame and keeps the padding black: a device renders the image,
 * not the letterbox around it.
 */

/** A rendering of a letterboxed `side`×`side` RGB frame (bytes), as a new frame. */
export type Rendering = (rgb: Uint8Array, side: number) => Uint8Array;

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function perPixel(f: (r: number, g: number, b: number) => [number, number, number]): Rendering {
  return (rgb) => {
    const out = new Uint8Array(rgb.length);
    for (let i = 0; i < rgb.length; i += 3) {
      const [r, g, b] = f(rgb[i] / 255, rgb[i + 1] / 255, rgb[i + 2] / 255);
      out[i] = clamp(r * 255);
      out[i + 1] = clamp(g * 255);
      out[i + 2] = clamp(b * 255);
    }
    return out;
  };
}

/** Saturation `s` about each pixel's BT.601 luma (0 = grey, 1 = as is). */
function saturation(s: number): Rendering {
  return perPixel((r, g, b) => {
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    return [y + s * (r - y), y + s * (g - y), y + s * (b - y)];
  });
}

function gamma(p: number): Rendering {
  const level = Uint8Array.from({ length: 256 }, (_, i) => clamp((i / 255) ** p * 255));
  return (rgb) => rgb.map((v) => level[v]);
}

/** A separable Gaussian blur of `sigma` pixels of the letterboxed frame, edges clamped. */
function blur(sigma: number): Rendering {
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (src: Float32Array, side: number, dx: number, dy: number) => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let c = 0; c < 3; c++) {
          let v = 0;
          for (let t = -radius; t <= radius; t++) {
            const xx = Math.min(side - 1, Math.max(0, x + t * dx));
            const yy = Math.min(side - 1, Math.max(0, y + t * dy));
            v += kernel[t + radius] * src[(yy * side + xx) * 3 + c];
          }
          out[(y * side + x) * 3 + c] = v / total;
        }
      }
    }
    return out;
  };
  return (rgb, side) => Uint8Array.from(pass(pass(Float32Array.from(rgb), side, 1, 0), side, 0, 1), clamp);
}

/** A seeded multiplicative noise of standard deviation `sigma` per pixel (the same on every channel). */
function speckle(sigma: number, seed: number): Rendering {
  return (rgb) => {
    let state = seed >>> 0;
    const uniform = () => {
      // mulberry32: the frames of one evaluation get the same noise on every run.
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const out = new Uint8Array(rgb.length);
    for (let i = 0; i < rgb.length; i += 3) {
      const n = 1 + sigma * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
      for (let c = 0; c < 3; c++) out[i + c] = clamp(rgb[i + c] * n);
    }
    return out;
  };
}

/** Down to 1/`factor` of the side by box averaging, and back by nearest neighbour: a coarser scanner. */
function coarse(factor: number): Rendering {
  return (rgb, side) => {
    const out = new Uint8Array(rgb.length);
    for (let by = 0; by < side; by += factor) {
      for (let bx = 0; bx < side; bx += factor) {
        const y1 = Math.min(side, by + factor);
        const x1 = Math.min(side, bx + factor);
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let y = by; y < y1; y++) for (let x = bx; x < x1; x++) sum += rgb[(y * side + x) * 3 + c];
          const mean = clamp(sum / ((y1 - by) * (x1 - bx)));
          for (let y = by; y < y1; y++) for (let x = bx; x < x1; x++) out[(y * side + x) * 3 + c] = mean;
        }
      }
    }
    return out;
  };
}

/** The renderings of colour frames (endoscopy), in report order. */
export const RENDERINGS: Readonly<Record<string, Rendering>> = {
  'warm (R×1.2, B×0.8)': perPixel((r, g, b) => [r * 1.2, g, b * 0.8]),
  'cool (R×0.85, B×1.2)': perPixel((r, g, b) => [r * 0.85, g, b * 1.2]),
  'greenish (G×1.15)': perPixel((r, g, b) => [r, g * 1.15, b]),
  'washed out (saturation 0.5)': saturation(0.5),
  'vivid (saturation 1.5)': saturation(1.5),
  'dark tone (gamma 1.5)': gamma(1.5),
  'bright tone (gamma 0.67)': gamma(0.67),
  'soft focus (blur σ 1.5 px)': blur(1.5),
};

/** The renderings of greyscale frames (ultrasound), in report order. */
export const GREY_RENDERINGS: Readonly<Record<string, Rendering>> = {
  'low gain (×0.7)': perPixel((r, g, b) => [r * 0.7, g * 0.7, b * 0.7]),
  'high gain (×1.3)': perPixel((r, g, b) => [r * 1.3, g * 1.3, b * 1.3]),
  'low contrast (0.7 about mid-grey)': perPixel((r, g, b) => [0.5 + 0.7 * (r - 0.5), 0.5 + 0.7 * (g - 0.5), 0.5 + 0.7 * (b - 0.5)]),
  'compressed range (gamma 0.67)': gamma(0.67),
  'expanded range (gamma 1.5)': gamma(1.5),
  'coarse speckle (noise σ 0.15)': speckle(0.15, 2026),
  'soft focus (blur σ 1.5 px)': blur(1.5),
  'coarser scanner (half resolution)': coarse(2),
};

/** The set for a model, by the kind of image its card says it is for: grey images get the ultrasound set. */
export function renderingsFor(colour: 'colour' | 'grey' | undefined): Readonly<Record<string, Rendering>> {
  return colour === 'grey' ? GREY_RENDERINGS : RENDERINGS;
}

/** `render` applied to a letterboxed frame, the padding outside the image's `box` (from the top-left) kept black. */
export function renderFrame(render: Rendering, rgb: Uint8Array, side: number, box: { left: number; top: number; width: number; height: number }): Uint8Array {
  const out = render(rgb, side);
  const x0 = Math.max(0, Math.floor(box.left));
  const y0 = Math.max(0, Math.floor(box.top));
  const x1 = Math.min(side, Math.ceil(box.left + box.width));
  const y1 = Math.min(side, Math.ceil(box.top + box.height));
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) if (y < y0 || y >= y1 || x < x0 || x >= x1) out.fill(0, (y * side + x) * 3, (y * side + x) * 3 + 3);
  }
  return out;
}
