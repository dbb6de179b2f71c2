import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors, fixture, parse, v4, v6 } from './helpers.ts';

test('abuse.ch-style CSV: column by header name found in a # comment row, quoted fields', () => {
  const p = parse(fixture('feodo.csv'), { format: 'csv', column: 'dst_ip' });
  assert.deepEqual(v4(p), ['192.0.2.44/32', '198.51.100.9/32', '203.0.113.77/32']);
  assert.equal(p.errors, 0);
  assert.equal(p.entries, 3);
  // the same by index (0-based)
  const q = parse(fixture('feodo.csv'), { format: 'csv', column: 1 });
  assert.deepEqual(v4(q), v4(p));
  assert.equal(q.errors, 0);
});

test('TSV: delimiter tab, header row by name or skipped as a title row with an index', () => {
  for (const column of ['IP', 0] as const) {
    const p = parse(fixture('sample.tsv'), { format: 'csv', column, delimiter: '\t' });
    assert.deepEqual(v4(p), ['192.0.2.71/32', '198.51.100.250/32']);
    assert.deepEqual(v6(p), ['2001:db8:0:0:0:0:0:71-2001:db8:0:0:0:0:0:71']);
    assert.equal(p.errors, 0, String(column));
  }
});

test('bad rows: short rows, unterminated quotes, bad values, escaped quotes', () => {
  const text = 'ip,note\n192.0.2.1,ok\n"198.51.100.0/24","a, quoted"\n203.0.113.5\n,empty\n"192.0.2.9,unterminated\n"192.0.2.""7",x\nnot-an-ip,x\n';
  const p = parse(text, { format: 'csv', column: 'ip' });
  assert.deepEqual(v4(p), ['192.0.2.1/32', '198.51.100.0/24', '203.0.113.5/32']);
  assert.deepEqual(errors(p), [
    '5: column 0: not an IP address, CIDR or a-b range: ""',
    '6: unterminated quote: "\\"192.0.2.9,unterminated"',
    '7: column 0: not an IP address, CIDR or a-b range: "192.0.2.\\"\\"7"',
    '8: column 0: not an IP address, CIDR or a-b range: "not-an-ip"',
  ]);
  const short = parse('a,b\n192.0.2.1\n', { format: 'csv', column: 1 });
  assert.deepEqual(errors(short), ['2: no column 1 on the line: "192.0.2.1"']);
});

test('a header name no row has: every data row is an error (the error-ratio guard trips)', () => {
  const p = parse('ip,note\n192.0.2.1,x\n192.0.2.2,y\n', { format: 'csv', column: 'address' });
  assert.equal(p.entries, 0);
  assert.equal(p.errors, 3);
  assert.match(p.sampleErrors[0]!.message, /no header row names the column "address"/);
});

test('kind domain reads the column as names', () => {
  const p = parse('host,score\nSpam-Example.TEST,5\n*.redirector-example.test,3\nbad name,1\n', { format: 'csv', kind: 'domain', column: 'host' });
  assert.deepEqual(p.domains, ['*.redirector-example.test', 'spam-example.test']);
  assert.deepEqual(errors(p), ['4: column 0: invalid character in a domain name: "bad name"']);
});

test('a csv source without a column is a configuration error', () => {
  assert.throws(() => parse('a\n', { format: 'csv' }), /needs a column/);
});

test('an all-digit column string is an index (environment overrides give strings)', () => {
  const p = parse('192.0.2.1,x\n', { format: 'csv', column: '0' });
  assert.deepEqual(v4(p), ['192.0.2.1/32']);
});
