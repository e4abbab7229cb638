/**
 * The app:// protocol's path resolver (main/shell/protocol.ts): every request resolves inside the renderer
 * folder or not at all, however the traversal is spelled; and which frames count as the studio's page.
 */
import assert from 'node:assert/strict';
import { join, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { APP_ENTRY, contentTypeFor, isStudioPage, resolveAppPath } from '../../main/shell/protocol.ts';

const root = resolve('/srv/studio/out/renderer');

test('app:// names files inside the renderer folder', () => {
  assert.equal(resolveAppPath(APP_ENTRY, root), join(root, 'index.html'));
  assert.equal(resolveAppPath('app://studio/', root), join(root, 'index.html'));
  assert.equal(resolveAppPath('app://studio', root), join(root, 'index.html'));
  assert.equal(resolveAppPath('app://studio/assets/index-abc.js', root), join(root, 'assets', 'index-abc.js'));
  assert.equal(resolveAppPath('app://studio/assets/index.js?v=1#x', root), join(root, 'assets', 'index.js'));
  assert.equal(resolveAppPath('app://studio/assets/a%20b.css', root), join(root, 'assets', 'a b.css'));
  // Dot segments that stay inside the folder are folded by URL parsing, as a browser does.
  assert.equal(resolveAppPath('app://studio/assets/../index.html', root), join(root, 'index.html'));
});

test('app:// refuses every spelling of a way out of the renderer folder', () => {
  const hostile = [
    'app://studio/../main/index.js',
    'app://studio/../../package.json',
    'app://studio/%2e%2e/%2e%2e/package.json',
    'app://studio/%2E%2E/package.json',
    'app://studio/.%2e/package.json',
    'app://studio/..%2f..%2fpackage.json',
    'app://studio/..%2F..%2Fpackage.json',
    'app://studio/assets%2f..%2f..%2fpackage.json',
    'app://studio/..%5c..%5cpackage.json',
    'app://studio/..\\..\\package.json',
    'app://studio/%2fetc%2fpasswd',
    'app://studio//etc/passwd',
    'app://studio/assets//x.js',
    'app://studio/C:%5cWindows%5cwin.ini',
    'app://studio/index.html%00.js',
    'app://studio/%zz',
    'app://studio/./index.html/..',
  ];
  for (const url of hostile) {
    const file = resolveAppPath(url, root);
    // Either refused, or (where URL parsing already folded a leading `..` at the root, as Chromium does)
    // a file inside the folder: never the project's package.json or /etc/passwd.
    assert.ok(file === undefined || file.startsWith(root + sep), `${url} → ${file}`);
  }
  // The ones that decode to a separator or a parent are refused outright, not mapped somewhere harmless.
  for (const url of ['app://studio/..%2f..%2fpackage.json', 'app://studio/%2e%2e%2fpackage.json', 'app://studio/..%5cpackage.json', 'app://studio/index.html%00.js', 'app://studio/%zz']) {
    assert.equal(resolveAppPath(url, root), undefined, url);
  }
});

test('app:// answers only its own scheme and host', () => {
  for (const url of ['file:///srv/studio/out/renderer/index.html', 'https://studio/index.html', 'app://other/index.html', 'app://studio:8080/index.html', 'app://user:pw@studio/index.html', 'not a url', '']) {
    assert.equal(resolveAppPath(url, root), undefined, url);
  }
});

test('content types are right for what the renderer build holds', () => {
  assert.match(contentTypeFor('/x/index.html'), /^text\/html/);
  assert.match(contentTypeFor('/x/a.JS'), /^text\/javascript/);
  assert.match(contentTypeFor('/x/a.css'), /^text\/css/);
  assert.equal(contentTypeFor('/x/a.wasm'), 'application/wasm');
  assert.equal(contentTypeFor('/x/a.unknown'), 'application/octet-stream');
});

test('isStudioPage: the app:// origin, or the dev server when one is set', () => {
  assert.equal(isStudioPage(APP_ENTRY), true);
  assert.equal(isStudioPage('app://studio/index.html#/viewer'), true);
  assert.equal(isStudioPage('app://evil/index.html'), false);
  assert.equal(isStudioPage('file:///srv/studio/out/renderer/index.html'), false);
  assert.equal(isStudioPage('https://example.com/'), false);
  assert.equal(isStudioPage(undefined), false);
  assert.equal(isStudioPage(''), false);
  const dev = 'http://localhost:5173';
  assert.equal(isStudioPage('http://localhost:5173/index.html', dev), true);
  assert.equal(isStudioPage('http://localhost:5173.evil.example/', dev), false);
  assert.equal(isStudioPage('http://localhost:5174/', dev), false);
  assert.equal(isStudioPage(APP_ENTRY, dev), false);
});
