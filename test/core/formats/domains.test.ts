import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors, fixture, parse } from './helpers.ts';

test("domain list: lowercase, final dot dropped, '.x' = x and *.x, '*.x' = subdomains only, sorted unique", () => {
  const p = parse(fixture('domains.txt'), { format: 'domains', kind: 'domain' });
  assert.deepEqual(p.domains, [
    '*.redirector-example.test',
    '*.tracker-example.test',
    'malware.example',
    'phish-example.test',
    'spam-example.test',
    'tracker-example.test',
  ]);
  assert.equal(p.entries, 6);
  assert.equal(p.errors, 0);
  assert.equal(p.lines, 8);
  assert.equal(p.v4.start.length, 0);
});

test('bad names are errors with their line number', () => {
  const text = ['ok.example', 'bad..example', 'two names.example', 'under_score.example', 'x'.repeat(64) + '.example', 'a/b.example', '192.0.2.1', '*.', '.', 'test'].join('\n');
  const p = parse(text, { format: 'domains', kind: 'domain' });
  assert.deepEqual(p.domains, ['ok.example', 'test', 'under_score.example']);
  assert.deepEqual(
    errors(p).map((e) => e.replace(/: "[^"]*"$/, '')),
    [
      '2: empty label',
      '3: more than one name on the line',
      '5: label longer than 63 characters',
      '6: invalid character in a domain name',
      '7: an IP address, not a domain name',
      '8: invalid character in a domain name',
      '9: empty name',
    ],
  );
});

test("format 'plain' with kind domain reads a domain list", () => {
  const p = parse('Example.TEST\n# c\n', { format: 'plain', kind: 'domain' });
  assert.deepEqual(p.domains, ['example.test']);
});

test('hosts file: names after the address, localhost entries ignored, several names per line', () => {
  const p = parse(fixture('hosts.txt'), { format: 'hosts', kind: 'domain' });
  assert.deepEqual(p.domains, ['ads.spam-example.test', 'malware.example', 'pop.malware.example', 'tracker.example']);
  assert.equal(p.entries, 4);
  assert.equal(p.errors, 0);
});

test('hosts file errors', () => {
  const p = parse('spam.example\n0.0.0.0\n0.0.0.0 bad..name ok.example\n192.0.2.0/24 x.example\n', { format: 'hosts', kind: 'domain' });
  assert.deepEqual(p.domains, ['ok.example']);
  assert.deepEqual(errors(p), [
    '1: hosts line does not start with an IP address: "spam.example"',
    '2: hosts line without a name: "0.0.0.0"',
    '3: empty label: "bad..name"',
    '4: hosts line does not start with an IP address: "192.0.2.0/24 x.example"',
  ]);
});
