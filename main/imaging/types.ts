/** The imaging layer's public shapes (re-exported by index.ts). */
import type { FramePixels, ImageSummary } from '../../preload/contract.ts';

export type FrameData = Omit<FramePixels, 'id'>;

export interface StoredFrame {
  data: Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
  /** [rows, cols] or [rows, cols, 3] */
  shape: number[];
}

export interface LoadedImage {
  info: Omit<ImageSummary, 'id' | 'thumbnail'>;
  /** Display values: modality LUT applied (grey Float32), colour as RGB bytes. */
  frame(index: number): Promise<FrameData>;
  /** Stored values after decompression, before any LUT (colour converted to RGB; palette images keep indices). */
  stored(index: number): Promise<StoredFrame>;
  /** Main header fields for meta.json. */
  meta(): Record<string, unknown>;
  /** Let go of the decoded frames and file bytes held for this image (it is closed); later calls decode again. */
  release?(): void;
}
