// The imaging worker (guarded.ts): parses DICOM files and decodes frames off the caller's thread, under its watchdog.
import { parentPort } from 'node:worker_threads';
import { failureReply, type FailureReply } from '../errors.ts';
import { decodePlannedFrame, planDicom, type FrameRequest } from '../dicom/plan.ts';
import { decodeCompressedFrame, type FrameLayout } from './index.ts';
import { takeRecycle } from './wasm.ts';

export type WorkerRequest =
  | { op: 'decode'; id?: number; ts: string; encoded: Uint8Array; layout: FrameLayout; planar: 0 | 1; photometric: string }
  | { op: 'plan'; id?: number; bytes: Uint8Array; name: string }
  | { op: 'frame'; id?: number; req: FrameRequest };

/** `recycle`: this thread's codec memory grew large; replace it once this job is answered. */
export type WorkerReply = ({ id: number; ok: true; value?: unknown; out?: unknown } | ({ id: number; ok: false } & FailureReply)) & { recycle?: boolean };

/** The buffers a reply may hand over: each whole, once. */
function transferable(views: (ArrayBufferView | undefined)[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views) if (v && v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.add(v.buffer);
  return [...out];
}

async function run(req: WorkerRequest): Promise<{ value: unknown; transfer: ArrayBuffer[]; key: 'value' | 'out' }> {
  if (req.op === 'plan') {
    const plan = await planDicom(req.bytes, req.name);
    // The file's bytes go back to the caller (its frames are read from them), unless inflated bytes replace them.
    const value = plan.dataBytes ? { plan } : { plan, bytes: req.bytes };
    return { value, transfer: transferable([plan.dataBytes ?? req.bytes]), key: 'value' };
  }
  if (req.op === 'frame') {
    const result = await decodePlannedFrame(req.req);
    return { value: result, transfer: transferable([result.stored.data, result.display?.data]), key: 'value' };
  }
  const out = await decodeCompressedFrame(req.ts, req.encoded, req.layout, req.planar, req.photometric);
  return { value: out, transfer: transferable([out.kind === 'native' ? out.bytes : out.samples]), key: 'out' };
}

parentPort!.on('message', async (req: WorkerRequest & { id: number }) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const done = await run(req);
    transfer = done.transfer;
    reply = { id: req.id, ok: true, [done.key]: done.value };
  } catch (err) {
    reply = { id: req.id, ok: false, ...failureReply(err) };
  }
  if (takeRecycle()) reply.recycle = true;
  parentPort!.postMessage(reply, transfer);
});

parentPort!.postMessage({ ready: true });
