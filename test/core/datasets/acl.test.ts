// rbldnsd `acl` files: line syntax, actions and defaults, longest-prefix lookups. The expected
// verdicts and warnings are what Debian's rbldnsd does with the same lines (checked by querying
// it from different loopback source addresses).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acl, aclKeyword, AclDataset, ACL_EMPTY, ACL_IGNORE, ACL_LISTED, ACL_NONE, ACL_REFUSE } from '../../../core/datasets/acl.ts';
import { loadDataset } from '../../../core/rbldnsd/reader.ts';
import { defaultLoadOptions } from '../../../core/rbldnsd/state.ts';

const dir = mkdtempSync(join(tmpdir(), 'qbl-acl-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function load(texts: string[], opts: { acceptHostBits?: boolean } = {}): { d: AclDataset; warnings: string[] } {
  const warnings: string[] = [];
  const files = texts.map((t, i) => {
    const f = join(dir, `acl-${Math.random().toString(36).slice(2)}-${i}.txt`);
    writeFileSync(f, t);
    return f;
  });
  const r = loadDataset(acl, files, defaultLoadOptions({ ...opts, warn: (at, m) => warnings.push(`${at.line}: ${m}`) }));
  return { d: r.dataset as AclDataset, warnings };
}

const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
function v6(s: string): Uint8Array {
  // test helper: full or `::` forms without IPv4 tails
  const [l, r] = s.includes('::') ? s.split('::') : [s, undefined];
  const L = l ? l.split(':') : [];
  const R = r ? r.split(':') : [];
  const groups = r === undefined ? L : [...L, ...Array(8 - L.length - R.length).fill('0'), ...R];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    b[2 * i] = v >> 8;
    b[2 * i + 1] = v & 255;
  });
  return b;
}

/** The verdict for a client as text: ignore, refuse, empty, none, or "A txt". */
function verdict(d: AclDataset, client: string): string {
  const code = client.includes(':') ? d.match6(v6(client), 0) : d.match4(ip(client));
  if (code === ACL_NONE) return 'none';
  if (code === ACL_IGNORE) return 'ignore';
  if (code === ACL_REFUSE) return 'refuse';
  if (code === ACL_EMPTY) return 'empty';
  const v = d.values[code - ACL_LISTED]!;
  return `${[v.a >>> 24, (v.a >>> 16) & 255, (v.a >>> 8) & 255, v.a & 255].join('.')} ${v.txt}`;
}

test('actions: keywords with : or =, any case, prefixes of a keyword; A+TXT values are "always listed"', () => {
  const { d, warnings } = load([[
    '127.0.0.2 :ignore', '127.0.0.3 =refuse', '127.0.0.4 :empty', '127.0.0.5 :127.0.0.9:listed $ here', '127.0.0.6 :pass',
    '127.0.0.7 :BLACKhole', '127.0.0.8 :ref', '127.0.0.9 :e', '127.0.0.10 :b', '127.0.0.11 :Pass:comment', '127.0.0.12:refuse',
    '127.0.0.13 :ignore trailing words', '127.0.0.14 :127.0.0.10', '127.0.0.15 some text $', '127.0.0.16 ignore',
    '127.0.0.17 =bogus', '127.0.0.18 :ignorex', '127.0.0.19 :127.0.0.3 txt', '127.0.0.20 =', '',
  ].join('\n')]);
  const expect: Record<string, string> = {
    '127.0.0.2': 'ignore', '127.0.0.3': 'refuse', '127.0.0.4': 'empty', '127.0.0.5': '127.0.0.9 listed $ here',
    '127.0.0.6': 'none', '127.0.0.7': 'ignore', '127.0.0.8': 'refuse', '127.0.0.9': 'empty', '127.0.0.10': 'ignore',
    '127.0.0.11': 'none', '127.0.0.12': 'refuse', '127.0.0.13': 'ignore',
    '127.0.0.14': '127.0.0.10 null', // A only: the TXT comes from the default (none at first)
    '127.0.0.15': '127.0.0.2 some text $', // TXT only: the A comes from the default (127.0.0.2)
    '127.0.0.16': '127.0.0.2 ignore', // a bare word is TXT, not a keyword
    '127.0.0.17': 'none', '127.0.0.18': 'none', '127.0.0.19': 'none', '127.0.0.20': 'none', '127.0.0.99': 'none',
  };
  for (const [client, v] of Object.entries(expect)) assert.equal(verdict(d, client), v, client);
  assert.deepEqual(warnings, ['16: invalid keyword', '17: invalid A RR', '18: unrecognized value for an entry', '19: invalid keyword']);
});

test('defaults: ignore at the start of every file; :word, =word and :A:TXT lines change it for later lines', () => {
  const { d, warnings } = load([
    ['127.0.0.1', '=empty', '127.0.0.2', ':127.0.0.11:default $', '127.0.0.3', '127.0.0.4 :127.0.0.12', ':refuse', '127.0.0.5',
      ':127.0.0.13', '127.0.0.6', ':bad', '127.0.0.7', ''].join('\n'),
    '127.0.1.1\n',
  ]);
  assert.equal(verdict(d, '127.0.0.1'), 'ignore');
  assert.equal(verdict(d, '127.0.0.2'), 'empty');
  assert.equal(verdict(d, '127.0.0.3'), '127.0.0.11 default $');
  assert.equal(verdict(d, '127.0.0.4'), '127.0.0.12 default $');
  assert.equal(verdict(d, '127.0.0.5'), 'refuse');
  // rbldnsd crashes on an A-only default after a keyword default; we take the last A+TXT default's TXT
  assert.equal(verdict(d, '127.0.0.6'), '127.0.0.13 default $');
  assert.equal(verdict(d, '127.0.0.7'), '127.0.0.13 default $', 'a bad default line changes nothing');
  assert.equal(verdict(d, '127.0.1.1'), 'ignore', 'the next file starts over');
  assert.deepEqual(warnings, ['11: invalid A RR']);
});

test('keys: ip4trie/ip6trie syntax, longest prefix wins, pass opens a hole, duplicates keep the first', () => {
  const { d, warnings } = load([[
    '127.0.0.0/8 :refuse', '127.0.0.1/32 :pass', '127.0.1 :empty', '10/8 :127.0.0.3:ten', '0/0 :ignore',
    '0.0.0.0/0 :pass', '2001:db8::/32 :refuse', '2001:db8:1::/48 :empty', '2001:db9 :pass', '::1', '::/0 :127.0.0.4:v6 $',
    '127.0.0.1/24 :refuse', '192.0.2.1-5 :refuse', '!192.0.2.9', '1.2.3.4.5', '2001:db8:0:0:1::/70', '',
  ].join('\n')]);
  assert.equal(verdict(d, '127.0.0.1'), 'none');
  assert.equal(verdict(d, '127.0.0.2'), 'refuse');
  assert.equal(verdict(d, '127.0.1.9'), 'empty');
  assert.equal(verdict(d, '10.9.9.9'), '127.0.0.3 ten');
  assert.equal(verdict(d, '192.0.2.3'), 'ignore', '/0 matches everything; the duplicate /0 pass is dropped');
  assert.equal(verdict(d, '2001:db8::5'), 'refuse');
  assert.equal(verdict(d, '2001:db8:1::5'), 'empty');
  assert.equal(verdict(d, '2001:db9:ffff::1'), 'none');
  assert.equal(verdict(d, '::1'), 'ignore');
  assert.equal(verdict(d, '::ffff:7f00:1'), '127.0.0.4 v6 $', 'a v4-mapped client is looked up among the IPv6 entries');
  assert.equal(d.size, 10);
  assert.deepEqual(warnings.sort(), [
    '12: invalid range (non-zero host part)', '13: invalid address', '14: invalid address', '15: invalid address',
    '16: invalid range (non-zero host part)', '6: duplicated entry for 0.0.0.0/0',
  ].sort());
});

test('-e masks host bits; $MAXRANGE4 applies to IPv4 prefixes', () => {
  const { d } = load(['127.0.0.1/24 :refuse\n2001:db8::1/32 :empty\n'], { acceptHostBits: true });
  assert.equal(verdict(d, '127.0.0.77'), 'refuse');
  assert.equal(verdict(d, '2001:db8::77'), 'empty');
  const m = load(['$MAXRANGE4 /16\n10.0.0.0/8 :refuse\n10.1.0.0/16 :empty\n']);
  assert.equal(verdict(m.d, '10.2.0.1'), 'none');
  assert.equal(verdict(m.d, '10.1.0.1'), 'empty');
  assert.deepEqual(m.warnings, ['2: too large range (16777216) ignored (65536 max)']);
});

test('$TTL and substitutions belong to the dataset; snapshot round trip; no data, no dump', () => {
  const { d } = load(['$TTL 77\n$1 one\n$= base[$] $1\n127.0.0.5 :127.0.0.9:g $\n2001:db8::/32 :refuse\n']);
  assert.equal(d.ttl, 77);
  assert.equal(d.subs.base, 'base[$] $1');
  assert.equal(d.subs.subst[1], 'one');
  const back = acl.fromSnapshot(d.snapshot()) as AclDataset;
  assert.equal(back.ttl, 77);
  assert.equal(verdict(back, '127.0.0.5'), '127.0.0.9 g $');
  assert.equal(verdict(back, '2001:db8::1'), 'refuse');
  assert.equal(verdict(back, '127.0.0.6'), 'none');
  assert.equal(d.query({ labels: ['5', '0', '0', '127'], ip4: ip('127.0.0.5'), ip6: null, qtype: 1 }, { wantA: true, wantTxt: true, qtype: 1, a() {}, txt() {}, mx() {} }), false);
  const lines: string[] = [];
  d.dump('z.example', (l) => lines.push(l));
  assert.deepEqual(lines, []);
});

test('aclKeyword: a non-empty prefix of a keyword that starts with a letter', () => {
  assert.equal(aclKeyword(':i', 1), ACL_IGNORE);
  assert.equal(aclKeyword(':Bl#x', 1), ACL_IGNORE);
  assert.equal(aclKeyword(':r;', 1), ACL_REFUSE);
  assert.equal(aclKeyword(':', 1), -1);
  assert.equal(aclKeyword(':1', 1), -1);
  assert.equal(aclKeyword(':emptyy', 1), -1);
});
