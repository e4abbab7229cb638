// Decodes compressed frames for guarded.ts, off the caller's thread.
import { parentPort } from 'node:worker_threads';
import { failureReply, type FailureReply } from '../errors.ts';
import { decodeCompressedFrame, type CodecOutput, type FrameLayout } from './index.ts';

export interface DecodeRequest {
  id: number;
  ts: string;
  encoded: Uint8Array;
  layout: FrameLayout;
  planar: 0 | 1;
  photometric: string;
}

export type DecodeReply = { id: number; ok: true; out: CodecOutput } | ({ id: number; ok: false } & FailureReply);

parentPort!.on('message', async (req: DecodeRequest) => {
  let reply: DecodeReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const out = await decodeCompressedFrame(req.ts, req.encoded, req.layout, req.planar, req.photometric);
    const view = out.kind === 'native' ? out.bytes : out.samples;
    // Transfer only a buffer the view owns whole (zlib may hand back a slice of a larger one).
    if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) transfer.push(view.buffer as ArrayBuffer);
    reply = { id: req.id, ok: true, out };
  } catch (err) {
    reply = { id: req.id, ok: false, ...failureReply(err) };
  }
  parentPort!.postMessage(reply, transfer);
});
