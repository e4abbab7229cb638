import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IntendedUse } from '../../preload/contract.ts';
import { suggestModel } from '../../preload/fit.ts';

const colonoscopy: IntendedUse = { images: 'colonoscopy frames', colour: 'colour', modalities: ['ES'] };
const ultrasound: IntendedUse = { images: 'breast ultrasound', colour: 'grey', modalities: ['US'] };
const frame = { kind: 'raster' as const, colourSpread: 40 };
const model = (name: string, intendedUse: IntendedUse, site?: { better: boolean }) => ({ name, card: { intendedUse, ...(site ? { site } : {}) } });

test('the viewer offers a site-adapted model that beat its base before the shipped one, and never one that did not', () => {
  const shipped = model('kvasir-cbam', colonoscopy);
  const worse = model('kvasir-cbam-site', colonoscopy, { better: false });
  const better = model('kvasir-cbam-site2', colonoscopy, { better: true });
  const busi = model('busi-cbam', ultrasound);
  assert.equal(suggestModel([busi, worse, shipped, better], frame)?.name, 'kvasir-cbam-site2');
  assert.equal(suggestModel([busi, worse, shipped], frame)?.name, 'kvasir-cbam');
  // The only fitting model is an adaptation that lost: still better than one for another kind of image.
  assert.equal(suggestModel([busi, worse], frame)?.name, 'kvasir-cbam-site');
});
