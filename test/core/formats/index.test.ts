import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { parseSource, type ParsedSource, type SourceFormat } from '../../../core/formats/index.ts';
import { fixture, parse, v4 } from './helpers.ts';
import { unitRandom as prng } from '../../bench/datagen.ts';

test('option errors throw; file content never does', () => {
  assert.throws(() => parse('x', { format: 'rbldnsd' }), /core\/rbldnsd\/reader\.ts/);
  assert.throws(() => parse('x', { format: 'dshield', kind: 'domain' }), /kind must be ip/);
  assert.throws(() => parse('x', { format: 'hosts', kind: 'ip' }), /kind must be domain/);
  assert.throws(() => parse('x', { format: 'csv', column: 0, delimiter: '::' }), /one character/);
  assert.throws(() => parse('x', { format: 'nope' as SourceFormat }), /unknown format/);
});

test('input may be a slice of a larger buffer (Buffer pool); results own whole ArrayBuffers', () => {
  const big = Buffer.from('XXXX192.0.2.1\n198.51.100.0/24\n2001:db8::1\nYYYY');
  const slice = big.subarray(4, big.length - 4);
  const p = parseSource(slice, { format: 'plain', kind: 'ip', maxPrefix4: 8, maxPrefix6: 19 });
  assert.deepEqual(v4(p), ['192.0.2.1/32', '198.51.100.0/24']);
  for (const a of [p.v4.start, p.v4.end, p.v6.start, p.v6.end]) {
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, a.byteLength);
  }
  // transfer the arrays as the sync worker does: they arrive intact and leave the sender detached
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(p, [p.v4.start.buffer, p.v4.end.buffer, p.v6.start.buffer, p.v6.end.buffer]);
  const got = receiveMessageOnPort(port2)!.message as ParsedSource;
  port1.close();
  assert.deepEqual(v4(got), ['192.0.2.1/32', '198.51.100.0/24']);
  assert.equal(p.v4.start.length, 0);
  assert.equal(got.v6.start.length, 4);
});

const FORMATS: [SourceFormat, 'ip' | 'domain', Record<string, unknown>][] = [
  ['plain', 'ip', {}],
  ['netset', 'ip', {}],
  ['spamhaus-drop', 'ip', {}],
  ['dshield', 'ip', {}],
  ['csv', 'ip', { column: 1 }],
  ['csv', 'ip', { column: 'ip', delimiter: '\t' }],
  ['domains', 'domain', {}],
  ['hosts', 'domain', {}],
  ['plain', 'domain', {}],
];

function checkInvariants(p: ParsedSource, label: string): void {
  assert.ok(p.entries + p.errors <= Math.max(p.lines, 1) * 64, label);
  assert.ok(p.sampleErrors.length <= 20, label);
  for (const e of p.sampleErrors) {
    assert.ok(e.line >= 1 && e.line <= Math.max(p.lines, 1), `${label}: line ${e.line} of ${p.lines}`);
    assert.ok(e.message.length > 0 && e.message.length < 200, label);
  }
  for (let i = 1; i < p.v4.start.length; i++) assert.ok(p.v4.start[i]! > p.v4.end[i - 1]! + 1, label);
  for (let i = 0; i < p.v4.start.length; i++) assert.ok(p.v4.start[i]! <= p.v4.end[i]!, label);
}

test('fuzz: random bytes never throw, in any format', () => {
  const rnd = prng(7);
  for (let round = 0; round < 60; round++) {
    const len = Math.floor(rnd() * 3000);
    const buf = Buffer.alloc(len);
    const alphabet = round % 2 ? '0123456789abcdefABCDEF.:/-# ;\t\r\n,"{}[]*xyz%' : null;
    for (let i = 0; i < len; i++) buf[i] = alphabet ? alphabet.charCodeAt(Math.floor(rnd() * alphabet.length)) : Math.floor(rnd() * 256);
    for (const [format, kind, extra] of FORMATS) {
      const label = `round ${round} ${format}/${kind}`;
      const p = parseSource(buf, { format, kind, maxPrefix4: 8, maxPrefix6: 19, ...extra });
      checkInvariants(p, label);
    }
  }
});

test('fuzz: garbage lines among good ones are each counted as one error, the good ones still load', () => {
  const rnd = prng(11);
  const junk = '!@$^&()=+?<>|~`' + "'" + 'ghijklmnopqrstuvwxyz\x00\x01\x7f\xff';
  const good: string[] = [];
  const lines: string[] = [];
  let bad = 0;
  for (let i = 0; i < 3000; i++) {
    if (rnd() < 0.5) {
      const ip = `192.0.2.${i % 256}`;
      good.push(ip);
      lines.push(ip);
    } else {
      // starts with a byte no entry or comment can start with, then anything but a newline
      let s = junk[Math.floor(rnd() * junk.length)]!;
      const n = Math.floor(rnd() * 40);
      for (let k = 0; k < n; k++) {
        const c = Math.floor(rnd() * 256);
        s += c === 10 ? 'x' : String.fromCharCode(c);
      }
      lines.push(s);
      bad++;
    }
  }
  const p = parse(lines.join(rnd() < 0.5 ? '\n' : '\r\n'));
  assert.equal(p.errors, bad);
  assert.equal(p.entries, good.length);
  assert.deepEqual(v4(p), ['192.0.2.0/24']);
  assert.equal(p.lines, lines.length);
  const d = parse(lines.join('\n'), { format: 'domains', kind: 'domain' });
  assert.ok(d.errors >= bad - 5); // a few junk lines may be names; the IPs are errors there
  checkInvariants(d, 'domains');
});

test('every fixture parses without errors in its format', () => {
  const cases: [string, SourceFormat, 'ip' | 'domain', Record<string, unknown>][] = [
    ['plain.txt', 'plain', 'ip', {}],
    ['plain-crlf.txt', 'plain', 'ip', {}],
    ['drop.txt', 'plain', 'ip', {}],
    ['drop_v4.json', 'spamhaus-drop', 'ip', {}],
    ['drop_v6.json', 'spamhaus-drop', 'ip', {}],
    ['asndrop.json', 'spamhaus-drop', 'ip', {}],
    ['dshield-block.txt', 'dshield', 'ip', {}],
    ['example.netset', 'netset', 'ip', {}],
    ['feodo.csv', 'csv', 'ip', { column: 'dst_ip' }],
    ['sample.tsv', 'csv', 'ip', { column: 'ip', delimiter: '\t' }],
    ['domains.txt', 'domains', 'domain', {}],
    ['hosts.txt', 'hosts', 'domain', {}],
  ];
  for (const [file, format, kind, extra] of cases) {
    const p = parseSource(fixture(file), { format, kind, maxPrefix4: 8, maxPrefix6: 19, ...extra });
    assert.equal(p.errors, 0, `${file}: ${JSON.stringify(p.sampleErrors)}`);
    assert.ok(p.entries > 0 || p.meta['asns'], file);
  }
});
