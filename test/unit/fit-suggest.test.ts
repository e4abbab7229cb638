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

test('of the models fit for an image, the viewer offers one measured quiet on lesion-free frames before a louder or unmeasured one, the more sensitive first', () => {
  const figures = (negatives: number, fp: number | null, sensitivity1FP: number) => ({ metrics: { test: { negatives, fpPerNegativeImage: fp, sensitivity1FP } } });
  const withCard = (name: string, extra: object) => ({ name, card: { intendedUse: colonoscopy, ...extra } });
  const loud = withCard('a-loud', figures(120, 0.98, 0.93));
  const unmeasured = withCard('b-unmeasured', {});
  const quiet = withCard('c-quiet', figures(120, 0.07, 0.89));
  const quieter = withCard('d-quieter', figures(120, 0.02, 0.86));
  assert.equal(suggestModel([loud, unmeasured, quiet, quieter], frame)?.name, 'c-quiet');
  assert.equal(suggestModel([loud, unmeasured, quieter], frame)?.name, 'd-quieter');
  // Measured loud is still evidence; never measured comes after it (every measured model trained without such frames was loud).
  assert.equal(suggestModel([unmeasured, loud], frame)?.name, 'a-loud');
  // A null figure (no lesion-free image in the split) is not a measurement.
  assert.equal(suggestModel([withCard('e-null', figures(0, null, 0.99)), loud], frame)?.name, 'a-loud');
  // A site adaptation that beat its base still comes first, however it was measured.
  assert.equal(suggestModel([quiet, withCard('f-site', { site: { better: true } })], frame)?.name, 'f-site');
});

test('for a colour frame the shipped models offer kvasir-baseline-neg (quiet, and the most sensitive as recorded and as other cameras render its test frames), and for a grey ultrasound frame busi-cbam', async () => {
  const { listModels } = await import('../../main/detector/io.ts');
  const shipped = listModels('models');
  assert.ok(shipped.length >= 9, 'the shipped models are in models/');
  assert.equal(suggestModel(shipped, frame)?.name, 'kvasir-baseline-neg');
  assert.equal(suggestModel(shipped, { kind: 'raster', colourSpread: 0 })?.name, 'busi-cbam');
  assert.equal(suggestModel(shipped, { kind: 'dicom', modality: 'US', colourSpread: 0 })?.name, 'busi-cbam');
});

test('the viewer offers the first fitting model that knows images like the open one, and the first with its warning when none does', async () => {
  const { offerAmong, MAX_MODELS_ASKED } = await import('../../renderer/src/hooks/useModelOffer.ts');
  const check = (model: string, score?: number) => ({ imageId: 'i', frame: 0, model, ...(score === undefined ? {} : { appearance: { score, threshold: 1.5 } }), ...(score !== undefined && score > 1.5 ? { mismatch: `${model} has not seen images like this one` } : {}) });
  const scores: Record<string, number | undefined> = { a: 2.4, b: 1.1, c: 0.9, unscored: undefined };
  const asked: string[] = [];
  const ask = async (m: string) => {
    asked.push(m);
    return m === 'broken' ? new Error('cannot load') : check(m, scores[m]);
  };
  const offer = await offerAmong(['a', 'b', 'c'], ask);
  assert.equal(offer?.offered, 'b');
  assert.deepEqual(offer?.passedOver, ['a']);
  assert.deepEqual(asked, ['a', 'b'], 'stops at the first familiar model');
  assert.equal(offer?.noneKnows, undefined);

  // A model without statistics cannot say: one that scored the image and knows it comes first.
  const scored = await offerAmong(['unscored', 'a', 'c'], ask);
  assert.equal(scored?.offered, 'c');
  assert.deepEqual(scored?.passedOver, ['a']);
  const onlyUnscored = await offerAmong(['a', 'unscored'], ask);
  assert.equal(onlyUnscored?.offered, 'unscored', 'no scored model knows it: the one that cannot say, over one that warns');

  const none = await offerAmong(['broken', 'a'], ask);
  assert.equal(none?.offered, 'a', 'none knows it: the first that answered, whose warning then shows');
  assert.deepEqual(none?.noneKnows, ['a']);
  assert.match(none?.error ?? '', /broken: cannot load/);
  assert.equal(await offerAmong(['a', 'b'], ask, () => false), undefined, 'an offer for an image the viewer left is dropped');

  asked.length = 0;
  await offerAmong(['a', 'a', 'a', 'a', 'a', 'a'], ask);
  assert.equal(asked.length, MAX_MODELS_ASKED, 'a bounded number of networks per image');
});
