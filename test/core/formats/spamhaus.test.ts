import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors, fixture, parse, v4, v6 } from './helpers.ts';

const DROP = { format: 'spamhaus-drop' } as const;

test('drop_v4.json: cidr lines are entries, the metadata line goes to meta', () => {
  const p = parse(fixture('drop_v4.json'), DROP);
  assert.deepEqual(v4(p), ['192.0.2.0/24', '198.51.100.0/22', '203.0.113.128/25']);
  assert.equal(p.entries, 3);
  assert.equal(p.errors, 0);
  assert.equal(p.lines, 4);
  assert.equal(p.meta['timestamp'], 1717200000);
  assert.equal(p.meta['records'], 3);
  assert.equal(p.meta['copyright'], '(c) 2024 example');
  assert.equal(p.meta['type'], undefined);
  assert.equal(p.meta['asns'], 0);
});

test('drop_v6.json', () => {
  const p = parse(fixture('drop_v6.json'), { ...DROP, maxPrefix6: 19 });
  assert.deepEqual(v6(p), ['2001:db8:1000:0:0:0:0:0-2001:db8:1fff:ffff:ffff:ffff:ffff:ffff', '2001:db8:4000:0:0:0:0:0-2001:db8:40ff:ffff:ffff:ffff:ffff:ffff']);
  assert.equal(p.widest6, 36);
  assert.equal(p.errors, 0);
});

test('asndrop.json: ASN lines are counted in meta, they are neither entries nor errors', () => {
  const p = parse(fixture('asndrop.json'), DROP);
  assert.equal(p.entries, 0);
  assert.equal(p.errors, 0);
  assert.equal(p.meta['asns'], 3);
  assert.equal(p.meta['records'], 3);
  assert.equal(p.v4.start.length, 0);
});

test('defensive: bad JSON, objects without cidr, bad cidr, unknown fields, blank lines', () => {
  const text = [
    '{"cidr":"192.0.2.0/24","sblid":"SBL1","rir":"arin","new_field":{"x":1}}',
    '',
    '{"cidr":"192.0.2.300/24"}',
    '{"cidr":"0.0.0.0/1","sblid":"SBL2"}',
    '{"sblid":"SBL3"}',
    '[1,2]',
    '"just a string"',
    '{"cidr":"198.51.100.0/24"', // truncated transfer
    '{"asn":"AS64500"}',
    '{"cidr":" 203.0.113.0/24 "}',
    '{"type":"metadata","timestamp":1717200000,"nested":{"a":1},"flag":true}',
  ].join('\n');
  const p = parse(text, DROP);
  assert.deepEqual(v4(p), ['192.0.2.0/24', '203.0.113.0/24']);
  assert.equal(p.errors, 6);
  assert.deepEqual(errors(p), [
    '3: cidr field: not an IP address, CIDR or a-b range: "192.0.2.300/24"',
    '4: wider than the allowed /8 (covers a /1): "0.0.0.0/1"',
    '5: object without a cidr or asn field: "{\\"sblid\\":\\"SBL3\\"}"',
    '6: not a JSON object: "[1,2]"',
    '7: not a JSON object: "\\"just a string\\""',
    '8: invalid JSON: "{\\"cidr\\":\\"198.51.100.0/24\\""',
  ]);
  assert.equal(p.meta['asns'], 1);
  assert.deepEqual(Object.keys(p.meta).sort(), ['asns', 'timestamp']);
});

test('a whole-file JSON array of the same objects', () => {
  const p = parse('[{"cidr":"192.0.2.0/24"},{"asn":64500},{"type":"metadata","records":2}]\n', DROP);
  assert.deepEqual(v4(p), ['192.0.2.0/24']);
  assert.equal(p.meta['asns'], 1);
  assert.equal(p.meta['records'], 2);
  const bad = parse('[{"cidr":"192.0.2.0/24"},', DROP);
  assert.equal(bad.errors, 1);
  assert.match(bad.sampleErrors[0]!.message, /^invalid JSON array/);
});
