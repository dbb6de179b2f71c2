import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors, fixture, parse, v4 } from './helpers.ts';

const DSHIELD = { format: 'dshield' } as const;

test('block.txt: start + netblock bits, title row skipped, header fields to meta', () => {
  const p = parse(fixture('dshield-block.txt'), DSHIELD);
  assert.deepEqual(v4(p), ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']);
  assert.equal(p.entries, 3);
  assert.equal(p.errors, 0);
  assert.equal(p.lines, 10);
  assert.equal(p.meta['updated'], '2024-06-01T00:00:00');
  assert.equal(p.meta['Columns (tab delimited)'], 'start end netblock attacks name country email');
});

test('the bits column decides (host bits masked); without it the start-end range; bad rows are errors', () => {
  const rows = [
    '192.0.2.7\t192.0.2.255\t24\t1\tX\tZZ\te', // start not aligned: masked to the /24
    '198.51.100.0\t198.51.100.9\tx', // no usable bits: start-end
    '203.0.113.0\t203.0.113.255\t33\t1', // bits > 32: falls back to start-end
    'nonsense\t203.0.113.255\t24',
    '203.0.113.0',
    '203.0.113.9\t203.0.113.1\t',
    '10.0.0.0\t10.255.255.255\t7',
    '  192.0.2.0   192.0.2.255   24', // blank-separated (hand-edited copy)
  ];
  const p = parse(rows.join('\r\n') + '\r\n', DSHIELD);
  assert.deepEqual(v4(p), ['192.0.2.0/24', '198.51.100.0-198.51.100.9', '203.0.113.0/24']);
  assert.equal(p.meta['hostBitsMasked'], 1);
  assert.deepEqual(errors(p), [
    '4: start column is not an IPv4 address: "nonsense\\t203.0.113.255\\t24"',
    '5: neither a netblock size nor an end address: "203.0.113.0"',
    '6: range ends before it starts: "203.0.113.9\\t203.0.113.1"',
    '7: wider than the allowed /8 (covers a /7): "10.0.0.0\\t10.255.255.255\\t7"',
  ]);
});
