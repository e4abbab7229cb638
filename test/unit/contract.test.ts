import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHANNELS, type Handlers, requests, validateRequest } from '../../preload/contract.ts';
import { decode, encode } from '../../preload/wire.ts';
import { createDispatch } from '../../main/services/dispatch.ts';
import { StudioError } from '../../preload/contract.ts';

test('every channel has a request schema and a strict object shape', () => {
  for (const channel of CHANNELS) {
    assert.ok(requests[channel], channel);
    assert.equal(validateRequest(channel, { definitelyNotAField: 1 }).ok, false, `${channel} accepts unknown fields`);
  }
});

test('a bad payload is a typed INVALID_PAYLOAD error naming the field', () => {
  const result = validateRequest('imaging.frame', { id: 'a', frame: -1 });
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.error.code, 'INVALID_PAYLOAD');
    assert.match(result.error.message, /frame/);
  }
  assert.equal(validateRequest('detector.run', { imageId: 'x', model: '../../etc/passwd' }).ok, false, 'model names cannot be paths');
  assert.equal(validateRequest('review.add', { imageId: 1, reviewer: 'r', box: [10, 10, 5, 20] }).ok, false, 'inverted boxes are refused');
  assert.equal(validateRequest('detector.run', { imageId: 'a', model: 'kvasir-cbam', flips: 'diagonal' }).ok, false, 'only the known mirror sets');
  assert.equal(validateRequest('detector.run', { imageId: 'a', model: 'kvasir-cbam', flips: 'hv' }).ok, true);
  const run = { name: 'm', data: '/d', variant: 'cbam', epochs: 1 };
  assert.equal(validateRequest('training.start', { ...run, augmentation: 'wild' }).ok, false, 'only the known augmentation presets');
  const compare = validateRequest('evaluation.compare', { models: ['a', 'b'], data: '/d' });
  assert.ok(compare.ok && compare.value.scope === 'own' && compare.value.split === 'test', 'a comparison scores each model on its own test split unless asked');
  assert.equal(validateRequest('evaluation.compare', { models: ['a', 'b'], data: '/d', scope: 'shared' }).ok, false, 'only the known scopes');
  assert.equal(validateRequest('evaluation.sample', { data: '/d' }).ok, false, 'a sample needs its id');
  assert.equal(validateRequest('evaluation.sample', { data: '/d', id: '' }).ok, false, 'an empty id names nothing');
  assert.equal(validateRequest('evaluation.sample', { data: '/d', id: 'a.png', format: 'zip' }).ok, false, 'only the known dataset layouts');
  const sample = validateRequest('evaluation.sample', { data: '/d', id: 'a.png' });
  assert.ok(sample.ok && sample.value.format === 'masks', 'the masks layout unless told');
});

test('schema defaults are filled before a handler sees the request', () => {
  const result = validateRequest('detector.run', { imageId: 'a', model: 'kvasir-cbam' });
  assert.ok(result.ok);
  if (result.ok) assert.equal(result.value.frame, 0);
  const training = validateRequest('training.start', { name: 'm', data: '/d', variant: 'cbam', epochs: 1 });
  assert.ok(training.ok);
  if (training.ok) assert.equal(training.value.augmentation, 'standard', "a run that names no preset gets the shipped models' one");
});

test('wire encoding round-trips typed arrays, Buffers and nested values without base64', () => {
  const grey = new Float32Array([0.5, -1.25, 3e6]);
  const rgb = Buffer.from([1, 2, 3, 250]);
  const message = { ok: true, value: { a: [1, 'x', null], grey, nested: { rgb, f64: new Float64Array([Math.PI]) } } };
  const bytes = encode(message);
  assert.ok(bytes.byteLength < 256, `${bytes.byteLength} bytes`);
  const back = decode<typeof message>(bytes);
  assert.deepEqual(back.value.a, [1, 'x', null]);
  assert.ok(back.value.grey instanceof Float32Array);
  assert.deepEqual(Array.from(back.value.grey), Array.from(grey));
  assert.ok(back.value.nested.rgb instanceof Uint8Array);
  assert.deepEqual(Array.from(back.value.nested.rgb), [1, 2, 3, 250]);
  assert.equal(back.value.nested.f64[0], Math.PI);
});

test('wire decoding refuses a message that names one blob twice, or a blob it never names: one upload could be opened a hundred times', () => {
  const bytes = encode({ files: [{ name: 'a.dcm', bytes: new Uint8Array([1, 2, 3, 4]) }] });
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const json = new TextDecoder().decode(bytes.subarray(4, 4 + jsonLength));
  // The same message with its placeholder repeated: the JSON grows, so rebuild it around the same blob.
  const rebuild = (text: string) => {
    const head = new TextEncoder().encode(text);
    const blobAt = Math.ceil((4 + jsonLength) / 8) * 8;
    const blob = bytes.subarray(blobAt);
    const start = Math.ceil((4 + head.byteLength) / 8) * 8;
    const out = new Uint8Array(start + blob.byteLength);
    new DataView(out.buffer).setUint32(0, head.byteLength, true);
    out.set(head, 4);
    out.set(blob, start);
    return out;
  };
  const entry = json.slice(json.indexOf('[') + 1, json.lastIndexOf(']'));
  const twice = json.replace(entry, `${entry},${entry}`);
  assert.throws(() => decode(rebuild(twice)), /blob 0 is named more than once/);
  const none = json.replace(entry, '{"name":"a.dcm"}');
  assert.throws(() => decode(rebuild(none)), /named by nothing/);
  assert.deepEqual([...(decode<{ files: { bytes: Uint8Array }[] }>(rebuild(json)).files[0].bytes)], [1, 2, 3, 4]);
});

test('wire decoding rejects truncated or forged messages with an error, not a crash', () => {
  const bytes = encode({ data: new Uint16Array(16) });
  assert.throws(() => decode(bytes.subarray(0, bytes.byteLength - 9)), /wire/);
  assert.throws(() => decode(new Uint8Array([255, 255, 255, 255, 0])), /wire/);
});

test('dispatch turns unknown channels, bad payloads and thrown errors into envelopes', async () => {
  const handlers = {
    'imaging.list': async () => {
      throw new StudioError('NOT_FOUND', 'nothing open');
    },
    'imaging.close': async () => {
      throw new Error('boom');
    },
  } as unknown as Handlers;
  const logged: string[] = [];
  const dispatch = createDispatch(handlers, (l) => logged.push(l));
  assert.deepEqual(await dispatch('no.such', {}), { ok: false, error: { code: 'UNKNOWN_CHANNEL', message: 'unknown channel: no.such' } });
  const bad = await dispatch('imaging.frame', 'not an object');
  assert.equal(bad.ok, false);
  assert.deepEqual(await dispatch('imaging.list', {}), { ok: false, error: { code: 'NOT_FOUND', message: 'nothing open' } });
  const internal = await dispatch('imaging.close', { ids: [] });
  assert.equal(internal.ok, false);
  if (!internal.ok) assert.equal(internal.error.code, 'INTERNAL');
  assert.equal(logged.length, 1, 'internal errors are logged with their stack');
});
