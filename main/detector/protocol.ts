/** Messages between the engine (main thread) and its inference workers. */
import type { Map2D } from '../../preload/contract.ts';
import type { RawDetection } from './tfjs-detector.ts';
import type { BackendState } from './backend.ts';
import type { RGBImage } from './preprocess.ts';
import type { FlipSet } from './flips.ts';

export type WorkerRequest =
  | { id: number; type: 'init'; backend?: string; runtime?: string; threads?: number }
  | { id: number; type: 'detect'; modelDir: string; image: RGBImage; threshold?: number; flips?: FlipSet }
  | { id: number; type: 'gradcam'; modelDir: string; image: RGBImage; layer?: string }
  | { id: number; type: 'appearance'; modelDir: string; image: RGBImage; flips?: FlipSet }
  | { id: number; type: 'memory' };

export type WorkerResult =
  | { type: 'init'; state: BackendState }
  | { type: 'detect'; detection: RawDetection }
  | { type: 'gradcam'; layer: string; map: Map2D; backend: string; note?: string }
  | { type: 'appearance'; appearance?: { score: number; threshold: number } }
  | { type: 'memory'; numTensors: number; numBytes: number };

export type WorkerReply = { id: number; ok: true; result: WorkerResult } | { id: number; ok: false; error: { code: string; message: string; subject?: string } };
