/**
 * A review store is a file anyone can edit, and the studio opens one it is pointed at (`--store`, a
 * training plan on format review). Found by a hunt for hostile inputs (session 30): a trigger that turned
 * "accepted" into "rejected" passed the integrity check; a view in place of the findings table hung an
 * export; a stored 1×1 mask holding a run of 10¹¹ held the host's event loop while a training plan walked it;
 * a 40000² mask on a 190×335 image took 1.6 GB.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { StudioError } from '../../preload/contract.ts';
import { openStore } from '../../main/review/store.ts';
import { openDataset, reviewedDataset } from '../../main/datasets/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'hostile-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A store with one image (40×30) and one accepted model finding carrying a proper mask. */
async function store(name: string): Promise<{ file: string; findingId: number }> {
  const image = join(dir, `${name}.png`);
  await sharp(Buffer.alloc(40 * 30 * 3, 90), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(image);
  const file = join(dir, `${name}.sqlite`);
  const s = openStore(file);
  const run = s.beginRun({ model: 'm', backend: 'wasm' });
  const mask = { counts: [35, 5, 25, 5, 1130], size: [30, 40] as [number, number] };
  const { findingIds } = s.recordImageFindings(run, { path: image, contentHash: Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64), width: 40, height: 30 }, [{ box: [1, 5, 3, 10], score: 0.9, area: 10, mask }]);
  s.decide({ findingId: findingIds[0], reviewer: 'dr.a', decision: 'accepted' });
  s.close();
  return { file, findingId: findingIds[0] };
}

const tamper = (file: string, sql: string) => {
  const db = new Database(file);
  db.exec(sql);
  db.close();
};

test('a store carrying a trigger or a view the studio never writes is refused at open, naming it', async () => {
  const flip = await store('flip');
  tamper(flip.file, "CREATE TRIGGER flip AFTER INSERT ON decisions BEGIN UPDATE decisions SET decision = 'rejected' WHERE id = NEW.id; END;");
  const viewed = await store('viewed');
  tamper(viewed.file, 'CREATE VIEW everything AS SELECT * FROM findings;');
  for (const [file, what] of [[flip.file, "a trigger 'flip'"], [viewed.file, "a view 'everything'"]]) {
    for (const readonly of [false, true]) {
      assert.throws(() => openStore(file, { mustExist: true, readonly }), (e: unknown) => e instanceof StudioError && e.message.includes(what) && e.message.includes(file), `${what}, readonly ${readonly}`);
    }
  }
});

test('stored masks that do not fit are dropped, not walked: a run of 10¹¹ on a 1×1 mask, a 40000² mask on a 40×30 image', { timeout: 20_000 }, async () => {
  const good = await openDataset((await store('good')).file, 'review');
  assert.ok(good.samples[0].rasterMask, 'a mask that fits its image trains as the lesion shape');
  for (const [name, mask] of [
    ['endless', { counts: [0, 1e11], size: [1, 1] }],
    ['oversized', { counts: [0, 1_600_000_000], size: [40000, 40000] }],
  ] as const) {
    const { file, findingId } = await store(name);
    tamper(file, `UPDATE findings SET mask = '${JSON.stringify(mask)}' WHERE id = ${findingId};`);
    const read = reviewedDataset(file);
    assert.equal(read.items.length, 1, name);
    const dataset = await openDataset(file, 'review');
    assert.equal(dataset.samples.length, 1, name);
    // The box still marks the lesion; the mask that does not fit the image is not there to decode.
    assert.deepEqual(dataset.samples[0].boxes, [[1, 5, 3, 10]], name);
    assert.equal(dataset.samples[0].rasterMask, undefined, `${name}: no mask decoded`);
  }
});
