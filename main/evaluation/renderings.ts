/**
 * The same frames as other cameras and processors would render them: fixed changes of white balance,
 * saturation, tone curve and sharpness, applied to a letterboxed RGB frame. `studio evaluate --renderings`
 * scores a model on each (lesion-free frames too: a device renders normal tissue the same way), so a card
 * says how its figures move at a hospital whose devices it never saw. Most lie outside the 'devices'
 * augmentation's ranges (gains within 15%, saturation 0.7–1.3, gamma 0.8–1.25): a model trained with it is
 * not scored on what it trained on. The letterbox padding is black and stays black under all of them
 * except the blur, which softens its edge.
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

/** The renderings every `--renderings` evaluation scores, in report order. */
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
