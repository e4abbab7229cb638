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
  assert.equal(suggestModel(shipped, frame)?.name, 'kvasir-baseline-256-neg');
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

test("the viewer's checks are asked once per image, averaging and model; a failed one is asked again, and a new model list forgets them all", async () => {
  const { OfferAnswers } = await import('../../renderer/src/hooks/useModelOffer.ts');
  const calls: string[] = [];
  let failNext = false;
  const answers = new OfferAnswers(async (imageId, model, flips) => {
    calls.push(`${imageId}/${model}/${flips}`);
    if (failNext) {
      failNext = false;
      throw new Error('worker restarting');
    }
    return { imageId, frame: 0, model };
  }, 3);
  const list = [{ name: 'a' }];
  const kept = answers.forModels(list);
  const [first, again] = await Promise.all([kept.ask('img', 'card', 'a'), kept.ask('img', 'card', 'a')]);
  assert.equal(first, again, 'a check on its way is shared, not asked twice');
  await kept.ask('img', 'hv', 'a');
  assert.deepEqual(calls, ['img/a/card', 'img/a/hv'], 'another averaging is another question');

  failNext = true;
  const failed = await kept.ask('img', 'card', 'b');
  assert.ok(failed instanceof Error && /worker restarting/.test(failed.message), 'a failure comes back as an Error, not a rejection');
  const retried = await kept.ask('img', 'card', 'b');
  assert.ok(!(retried instanceof Error), 'a failed check is asked again on the next look');

  calls.length = 0;
  answers.forModels(list).ask('img', 'card', 'a');
  assert.deepEqual(calls, [], 'the same list keeps its answers');
  await answers.forModels([{ name: 'a' }]).ask('img', 'card', 'a');
  assert.deepEqual(calls, ['img/a/card'], 'a refreshed list asks again');

  calls.length = 0;
  for (const id of ['i1', 'i2', 'i3', 'i4']) await answers.ask(id, 'card', 'a');
  await answers.ask('i1', 'card', 'a');
  assert.equal(calls.length, 5, 'past its bound the store starts over rather than grow');
});

test('while an image is asked again its last offer stands, marked checking; another image shows nothing offered until its checks answer', async () => {
  const { shownOffer } = await import('../../renderer/src/hooks/useModelOffer.ts');
  const offer = { offered: 'b', checks: new Map(), passedOver: ['a'], checking: false };
  const made = { key: 'img\0card\0a\0b', imageId: 'img', offer };
  assert.equal(shownOffer(made, made.key, 'img'), offer);
  const rechecking = shownOffer(made, 'img\0hv\0a\0b', 'img');
  assert.equal(rechecking.offered, 'b');
  assert.equal(rechecking.checking, true);
  const other = shownOffer(made, 'next\0card\0a\0b', 'next');
  assert.equal(other.offered, undefined);
  assert.equal(other.checking, true);
  const nothing = shownOffer(made, '', null);
  assert.equal(nothing.offered, undefined);
  assert.equal(nothing.checking, false, 'no image, or no fitting model: nothing to check');
});
