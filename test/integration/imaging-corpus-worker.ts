// Decodes corpus files off the test's main thread, so a decoder that hangs can be stopped by terminating
// this worker (a timer on the main thread cannot interrupt a synchronous loop).
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { StudioError } from '../../preload/contract.ts';
import { loadImageFile } from '../../main/imaging/index.ts';

export interface WorkerReply {
  id: number;
  ok: boolean;
  code?: string;
  message?: string;
  info?: { frames: number; photometric: string; transferSyntax?: string; rows: number; columns: number };
  frames?: { data: ArrayBufferView; shape: number[]; type: string }[];
  /** sha256 over every frame's stored values, for the lossless-equivalence groups. */
  hash?: string;
  decodeMs?: number;
  decodedBytes?: number;
}

parentPort!.on('message', async ({ id, path }: { id: number; path: string }) => {
  const started = performance.now();
  try {
    const img = await loadImageFile(path);
    const frames: WorkerReply['frames'] = [];
    const hash = createHash('sha256');
    let decodedBytes = 0;
    for (let i = 0; i < img.info.frames; i++) {
      const s = await img.stored(i);
      frames.push({ data: s.data, shape: s.shape, type: s.data.constructor.name });
      hash.update(new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength));
      decodedBytes += s.data.byteLength;
    }
    const reply: WorkerReply = {
      id,
      ok: true,
      info: { frames: img.info.frames, photometric: img.info.photometric, transferSyntax: img.info.transferSyntax, rows: img.info.rows, columns: img.info.columns },
      frames,
      hash: hash.digest('hex'),
      decodeMs: performance.now() - started,
      decodedBytes,
    };
    parentPort!.postMessage(reply);
  } catch (err) {
    const reply: WorkerReply = {
      id,
      ok: false,
      code: err instanceof StudioError ? err.code : 'THROWN',
      message: err instanceof Error ? err.message : String(err),
    };
    parentPort!.postMessage(reply);
  }
});
