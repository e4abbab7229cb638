// Stands in for the codec worker: loops forever on a frame that says so, answers the others.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (req) => {
  if (req.ts === 'hang') for (;;);
  parentPort.postMessage({ id: req.id, ok: true, out: { kind: 'native', bytes: new Uint8Array(req.encoded), planar: false } });
});
