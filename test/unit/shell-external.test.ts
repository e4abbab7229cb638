/**
 * The openExternal allowlist (main/shell/external.ts): only https links to a listed host open in the
 * system browser; everything else is refused with a reason for the log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXTERNAL_HOSTS, describeRefusal, externalUrlVerdict } from '../../main/shell/external.ts';

test('https links to a listed host open', () => {
  for (const host of EXTERNAL_HOSTS) {
    const verdict = externalUrlVerdict(`https://${host}/some/page?x=1#y`);
    assert.deepEqual(verdict, { allowed: true, url: `https://${host}/some/page?x=1#y` });
  }
  assert.equal(externalUrlVerdict('HTTPS://CreativeCommons.ORG/licenses/by/4.0/').allowed, true);
});

test('everything else is refused, with a reason', () => {
  const refused = [
    'http://creativecommons.org/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'smb://creativecommons.org/share',
    'ms-msdt:/id PCWDiagnostic',
    'https://evil.example/',
    'https://creativecommons.org.evil.example/',
    'https://evilcreativecommons.org/',
    'https://sub.creativecommons.org/',
    'https://creativecommons.org:8443/',
    'https://user:pw@creativecommons.org/',
    'https://creativecommons.org@evil.example/',
    'https://127.0.0.1/',
    'not a url',
    '',
    `https://creativecommons.org/${'a'.repeat(3000)}`,
  ];
  for (const url of refused) {
    const verdict = externalUrlVerdict(url);
    assert.equal(verdict.allowed, false, url);
    if (!verdict.allowed) assert.ok(verdict.reason.length > 0);
  }
  assert.equal(externalUrlVerdict(undefined).allowed, false);
  assert.equal(externalUrlVerdict(42).allowed, false);
});

test('the allowlist is exact host names, and the log line is bounded', () => {
  assert.ok(EXTERNAL_HOSTS.every((h) => /^[a-z0-9.-]+$/.test(h) && !h.startsWith('.') && !h.includes('*')));
  assert.equal(externalUrlVerdict('https://example.org/', ['example.org']).allowed, true);
  assert.equal(externalUrlVerdict('https://example.org/', []).allowed, false);
  const line = describeRefusal(`https://evil.example/${'x'.repeat(5000)}`, 'host evil.example is not on the allowlist');
  assert.ok(line.length < 400, line);
  assert.match(line, /not on the allowlist/);
});
