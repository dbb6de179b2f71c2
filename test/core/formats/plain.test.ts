import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors, fixture, parse, v4, v6 } from './helpers.ts';

test('plain list fixture: addresses, CIDRs, ranges, IPv6, comments, merging', () => {
  const p = parse(fixture('plain.txt'));
  assert.deepEqual(v4(p), ['192.0.2.33-192.0.2.34', '192.0.2.200/29', '198.51.100.77/32', '198.51.100.128/29', '203.0.113.0/27']);
  assert.deepEqual(v6(p), ['2001:db8:0:0:0:0:0:beef-2001:db8:0:0:0:0:0:beef', '2001:db8:1:0:0:0:0:0-2001:db8:1:ffff:ffff:ffff:ffff:ffff']);
  assert.equal(p.lines, 13);
  assert.equal(p.entries, 10);
  assert.equal(p.errors, 0);
  assert.deepEqual(p.domains, []);
  assert.deepEqual(p.meta, { hostBitsMasked: 1 }); // 192.0.2.200/29 written with host bits
  assert.equal(p.widest4, 28); // per entry, before merging (two /28s)
  assert.equal(p.widest6, 48);
});

test('CRLF line ends, blank lines, a last line without a newline', () => {
  const p = parse(fixture('plain-crlf.txt'));
  assert.deepEqual(v4(p), ['192.0.2.10/31', '198.51.100.0/24', '203.0.113.5/32']);
  assert.deepEqual(v6(p), ['2001:db8:0:0:0:0:0:10-2001:db8:0:0:0:0:0:10']);
  assert.equal(p.lines, 7);
  assert.equal(p.errors, 0);
});

test('each bad line is counted, skipped and reported with its line number and the problem', () => {
  const p = parse(fixture('plain-errors.txt'));
  assert.deepEqual(v4(p), ['192.0.2.1/32', '198.51.100.1/32']);
  assert.equal(p.entries, 2);
  assert.equal(p.errors, 8);
  assert.deepEqual(errors(p), [
    '3: not an IP address, CIDR or a-b range: "192.0.2.256"',
    '4: invalid prefix length: "192.0.2.1/33"',
    '5: range ends before it starts: "192.0.2.9-192.0.2.1"',
    '6: range mixes IPv4 and IPv6: "192.0.2.1-2001:db8::1"',
    '7: unexpected text after the address: "192.0.2.5 listed since yesterday"',
    '8: wider than the allowed /8 (covers a /0): "0.0.0.0/0"',
    '9: wider than the allowed /19 (covers a /16): "2001:db8::/16"',
    '10: not an IP address, CIDR or a-b range: "example.org"',
  ]);
});

test('maxPrefix limits: equal is allowed, wider is an error; ranges count by size', () => {
  const text = '10.0.0.0/8\n11.0.0.0/7\n12.0.0.0-12.255.255.255\n14.0.0.0-15.0.0.0\n2001:db8::/32\n2001:db8::/31\n';
  const p = parse(text, { maxPrefix4: 8, maxPrefix6: 32 });
  assert.deepEqual(v4(p), ['10.0.0.0/8', '12.0.0.0/8']);
  assert.equal(p.errors, 3);
  assert.deepEqual(errors(p).map((e) => e.split(':')[0]), ['2', '4', '6']);
  assert.equal(p.widest4, 8);
  const all = parse(text, { maxPrefix4: 0, maxPrefix6: 0 });
  assert.equal(all.errors, 0);
  assert.equal(all.widest4, 7);
  assert.equal(all.widest6, 31);
});

test('UTF-8 BOM, leading blanks, tabs, semicolon comments, Spamhaus drop.txt through plain', () => {
  const p = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('  192.0.2.1\t\n\t; c\n192.0.2.2\t;SBL1\n')]));
  assert.deepEqual(v4(p), ['192.0.2.1-192.0.2.2']);
  assert.equal(p.errors, 0);
  const drop = parse(fixture('drop.txt'));
  assert.deepEqual(v4(drop), ['192.0.2.0/24', '198.51.100.0/22']);
  assert.equal(drop.errors, 0);
  assert.equal(drop.lines, 5);
});

test('empty input and comment-only input', () => {
  for (const text of ['', '\n\n', '# only a comment', '# a\r\n; b\r\n']) {
    const p = parse(text);
    assert.equal(p.entries, 0);
    assert.equal(p.errors, 0);
    assert.equal(p.v4.start.length, 0);
    assert.equal(p.widest4, 32);
  }
  assert.equal(parse('').lines, 0);
  assert.equal(parse('\n\n').lines, 2);
});

test('only the first 20 errors are sampled, all are counted', () => {
  const p = parse('bad\n'.repeat(50) + '192.0.2.1\n');
  assert.equal(p.errors, 50);
  assert.equal(p.sampleErrors.length, 20);
  assert.equal(p.sampleErrors[19]!.line, 20);
  assert.equal(p.entries, 1);
});

test('long lines are quoted shortened in messages', () => {
  const p = parse('x'.repeat(500) + '\n');
  assert.equal(p.errors, 1);
  assert.ok(p.sampleErrors[0]!.message.length < 120);
  assert.match(p.sampleErrors[0]!.message, /\.\.\."$/);
});

test('FireHOL netset: header Key : value fields go to meta, then the entries', () => {
  const p = parse(fixture('example.netset'), { format: 'netset' });
  assert.deepEqual(v4(p), ['192.0.2.5/32', '192.0.2.64/29', '198.51.100.0/24']);
  assert.equal(p.errors, 0);
  assert.equal(p.meta['Maintainer'], 'Example Org');
  assert.equal(p.meta['List source URL'], 'https://lists.example.org/all.txt');
  assert.equal(p.meta['Source File Date'], 'Sat Jun  1 00:00:00 UTC 2024');
  assert.equal(p.meta['Update Frequency'], '30 mins');
  assert.equal(p.meta['Entries'], '3 subnets, 266 unique IPs');
  assert.equal(p.meta['ipv4 hash'], undefined); // `hash:net` is not a field separator
  // comments after the first entry are not header fields
  const q = parse('# A : 1\n192.0.2.1\n# B : 2\n', { format: 'netset' });
  assert.deepEqual(q.meta, { A: '1' });
});
