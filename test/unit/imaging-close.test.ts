/**
 * Closing images gives their memory back: the decoded frames a closed image held in the shared frame
 * cache are dropped at once (not left to crowd out the images still open until the budget evicts them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { frameMemory } from '../../main/imaging/cache.ts';
import { createImagingHandlers } from '../../main/imaging/handlers.ts';

async function png(width: number, height: number): Promise<Uint8Array<ArrayBuffer>> {
  return Uint8Array.from(await sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 30 } } }).png().toBuffer());
}

test('imaging.close drops the closed images’ decoded frames from the frame cache', async () => {
  const imaging = createImagingHandlers({ log: () => {} });
  const before = frameMemory.bytesUsed;
  const opened = await imaging.handlers['imaging.upload']({ files: [{ name: 'a.png', bytes: await png(300, 200) }, { name: 'b.png', bytes: await png(200, 100) }] });
  assert.equal(opened.images.length, 2);
  assert.ok(frameMemory.bytesUsed > before, 'opening decodes frame 0 into the cache');
  const result = await imaging.handlers['imaging.close']({ ids: opened.images.map((i) => i.id) });
  assert.equal(result.closed, 2);
  assert.equal(frameMemory.bytesUsed, before);
});

test('closing the imaging service drops every open image’s frames', async () => {
  const imaging = createImagingHandlers({ log: () => {} });
  const before = frameMemory.bytesUsed;
  await imaging.handlers['imaging.upload']({ files: [{ name: 'c.png', bytes: await png(128, 128) }] });
  assert.ok(frameMemory.bytesUsed > before);
  await imaging.close();
  assert.equal(frameMemory.bytesUsed, before);
});
