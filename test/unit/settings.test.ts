import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT, loadSettings, portablePath, resolveProjectPath } from '../../main/settings.ts';

test('model cards record data beside the project as a relative path that resolves back to the same folder', () => {
  const data = join(PROJECT_ROOT, '..', 'shared', 'data', 'kvasir-seg');
  assert.equal(portablePath(data), '../shared/data/kvasir-seg');
  assert.equal(resolveProjectPath(portablePath(data)), resolve(data));
  assert.equal(portablePath(join(PROJECT_ROOT, 'models', 'x')), 'models/x');
});

test('paths far from the project stay absolute rather than becoming a chain of ../', () => {
  assert.equal(portablePath('/opt/site/data'), '/opt/site/data');
  assert.equal(resolveProjectPath('/opt/site/data'), '/opt/site/data');
});

test('settings come from the environment, and a missing reference data folder is undefined, not an error', () => {
  const s = loadSettings({ STUDIO_DATA_DIR: '/definitely/not/here', STUDIO_MODELS_DIR: '/tmp/m', STUDIO_HOME: '/tmp/h', STUDIO_RUNTIME: 'tfjs' });
  assert.equal(s.dataDir, undefined);
  assert.equal(s.modelsDir, '/tmp/m');
  assert.equal(s.homeDir, '/tmp/h');
  assert.equal(s.runtime, 'tfjs');
  assert.equal(s.backend, undefined);
});
