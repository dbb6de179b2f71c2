// The differential corpus: which zones each server instance serves (same argv for rbldnsd and
// quorumbl) and, per topic, the queries whose answers must be identical.

import { QCLASS, QTYPE, type QueryFlags } from './wire.ts';

export interface Q {
  name: string;
  qtype: number;
  qclass?: number;
  flags?: QueryFlags;
}

export interface Instance {
  opts: string[];
  zones: string[];
}

const ZONES_A = [
  'ip4set.bl.example:ip4set:ip4set.txt,ip4set-extra.txt',
  'bl.example:ip4set:bl.txt',
  'bl.example:generic:bl-gen.txt',
  'edge.example:ip4set:edge.txt',
  'ip4tset.example:ip4tset:ip4tset.txt,ip4tset-2.txt',
  'ip4trie.example:ip4trie:ip4trie.txt',
  'edgetrie.example:ip4trie:edgetrie.txt',
  'ip6tset.example:ip6tset:ip6tset.txt',
  'ip6trie.example:ip6trie:ip6trie.txt',
  'mixed.example:ip4set:mixed4.txt',
  'mixed.example:ip6trie:mixed6.txt',
  'dnset.example:dnset:dnset.txt',
  'gen.example:generic:generic.txt',
  'comb.example:combined:combined.txt',
  'subst.example:ip4set:subst.txt',
  'nobase.example:ip4set:nobase.txt',
  'kw.example:ip4set:kw.txt',
  'expired.example:ip4set:expired.txt',
  'multi.example:ip4trie:multi-trie.txt',
  'multi.example:ip4set:multi-set.txt',
  'gz.example:ip4set:gz.txt.gz',
  'maxrange.example:ip4set:maxrange.txt:maxrange-2.txt',
  'maxtrie.example:ip4trie:maxtrie.txt',
  'lttl.example:ip4set:lttl-1.txt,lttl-2.txt',
  'big.example:ip4set:big.txt',
  'crlf.example:ip4set:crlf.txt',
  'fit.example:ip4set:fit.txt',
  'fit.example:generic:fit-gen.txt',
  // same type:filelist as dnset.example -> one shared dataset instance
  'dnset2.example:dnset:dnset.txt',
  'Upper.Example.:ip4tset:ip4tset.txt,ip4tset-2.txt',
];

const ZONES_B = [
  'ip4set.bl.example:ip4set:ip4set.txt,ip4set-extra.txt',
  'bl.example:ip4set:bl.txt',
  'bl.example:generic:bl-gen.txt',
  'edge.example:ip4set:edge.txt',
  'ip4trie.example:ip4trie:ip4trie.txt',
  'ip6trie.example:ip6trie:ip6trie.txt',
  'dnset.example:dnset:dnset.txt',
  'gen.example:generic:generic.txt',
  'comb.example:combined:combined.txt',
  'kw.example:ip4set:kw.txt',
  'multi.example:ip4trie:multi-trie.txt',
  'multi.example:ip4set:multi-set.txt',
];

// Zone ACLs (the client is always 127.0.0.1), in their own instance.
const ZONES_C = ['ignore', 'refuse', 'empty', 'pass', 'listed', 'other'].flatMap((a) => [
  `acl${a}.example:acl:acl-${a}.txt`, `acl${a}.example:ip4set:acl-data.txt`, `acl${a}.example:generic:acl-gen.txt`,
]);

export type InstanceName = 'A' | 'B' | 'C';

/**
 * A: defaults, version text hidden (-v). B: clamped TTLs, lazy NS (-a), -e, version REFUSED (-vv).
 * C: zone ACLs.
 */
export const INSTANCES: Record<InstanceName, Instance> = {
  A: { opts: ['-v'], zones: ZONES_A },
  B: { opts: ['-vv', '-a', '-e', '-t', '5m:1m:10m'], zones: ZONES_B },
  C: { opts: ['-v'], zones: ZONES_C },
};

const T = QTYPE;
export const ALL_TYPES = [T.A!, T.TXT!, T.ANY!, T.AAAA!, T.MX!, T.NS!, T.SOA!, T.PTR!, T.CAA!, T.AXFR!, T.IXFR!, T.TYPE0!, T.TKEY!];
const BASIC = [T.A!, T.TXT!, T.ANY!];
const GENERIC_TYPES = [T.A!, T.TXT!, T.MX!, T.ANY!, T.AAAA!, T.NS!];

function cross(names: string[], types: number[], extra: Partial<Q> = {}): Q[] {
  return names.flatMap((name) => types.map((qtype) => ({ name, qtype, ...extra })));
}

/** a.b.c.d -> d.c.b.a.zone */
export function v4(ip: string, zone: string): string {
  return `${ip.split('.').reverse().join('.')}.${zone}`;
}

function expand6(addr: string): number[] {
  let groups: string[];
  const tailV4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  let a = addr;
  if (tailV4) {
    const o = tailV4[1]!.split('.').map(Number);
    a = addr.slice(0, -tailV4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  if (a.includes('::')) {
    const [l, r] = a.split('::');
    const L = l ? l.split(':') : [];
    const R = r ? r.split(':') : [];
    groups = [...L, ...Array(8 - L.length - R.length).fill('0'), ...R];
  } else groups = a.split(':');
  return groups.map((g) => parseInt(g, 16));
}

/** IPv6 address -> 32 reversed nibble labels + zone. */
export function v6(addr: string, zone: string, upper = false): string {
  const hex = expand6(addr).map((g) => g.toString(16).padStart(4, '0')).join('');
  const n = hex.split('').reverse().join('.');
  return `${upper ? n.toUpperCase() : n}.${zone}`;
}

export interface Topic {
  title: string;
  instance: InstanceName;
  /** Set when quorumbl knowingly does not support the topic: reported as a todo, not a failure. */
  unsupported?: string;
  queries: Q[];
}

function ip4setQueries(z: string): Q[] {
  const listed = [
    '192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6', '192.0.2.7', '192.0.2.8',
    '192.0.2.9', '192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14', '192.0.2.15',
    '192.0.2.16', '192.0.2.17', '192.0.2.18', '192.0.2.19', '192.0.2.20', '192.0.2.200', '192.0.2.201',
    '192.0.2.202', '192.0.2.64', '192.0.2.65', '192.0.2.127', '203.0.113.9', '203.0.113.10', '198.51.100.1',
    '198.51.100.7', '198.51.100.8', '198.51.100.255', '10.20.0.5', '10.20.15.255', '10.20.16.0', '10.20.100.5',
    '10.20.127.255', '10.20.128.0', '10.30.0.5', '10.30.100.5', '172.16.0.1', '172.20.1.1', '172.20.5.5',
    '172.31.255.255', '172.32.0.1', '172.15.255.255', '10.3.0.0', '10.3.1.255', '10.3.2.0', '10.2.2.255',
    '10.2.3.4', '10.2.4.255', '10.2.5.0', '198.18.0.127', '198.18.0.128', '198.18.0.255', '198.18.1.0',
    '127.16.0.1', '127.31.255.255', '127.32.0.1', '127.15.255.255', '100.64.0.0', '100.64.0.127',
    '100.64.0.128', '100.100.1.1', '100.101.1.1', '100.101.2.1', '100.102.0.1', '100.103.255.255',
    '100.104.0.1', '1.2.3.4', '1.2.3.5', '1.2.4.5', '127.0.0.1', '127.0.0.2', '0.0.0.0', '255.255.255.255',
  ].map((ip) => v4(ip, z));
  const oddNames = [
    `2.0.192.${z}`, `0.192.${z}`, `192.${z}`, `5.1.2.0.192.${z}`, `256.2.0.192.${z}`, `0001.2.0.192.${z}`,
    `001.2.0.192.${z}`, `01.2.0.192.${z}`, `a.2.0.192.${z}`, `-1.2.0.192.${z}`, `1.2.0.192x.${z}`, `x.${z}`,
    `www.${z}`, `1.2.0.192.x.${z}`, `1..2.0.192.${z}`.replace('..', '.\\000.'),
    v6('::ffff:192.0.2.1', z), v6('::ffff:192.0.2.99', z), v6('::ffff:198.51.100.7', z), v6('2002:c000:0201::', z),
    v6('2002:c000:02c8::1', z), v6('2002:c000:0263::', z), v6('2001:db8::1', z), v6('::ffff:192.0.2.2', z, true),
    v6('::ffff:192.0.2.1', z).split('.').slice(1).join('.'), `0.${v6('::ffff:192.0.2.1', z)}`,
  ];
  const full = [z, v4('192.0.2.1', z), v4('192.0.2.99', z), `2.0.192.${z}`, v4('192.0.2.2', z).toUpperCase(),
    v4('198.51.100.7', z), v4('192.0.2.4', z)];
  return [
    ...cross(full, ALL_TYPES),
    ...cross(listed, BASIC),
    ...cross(oddNames, BASIC),
    // mixed-case owner names are echoed as sent
    ...cross([`1.2.0.192.IP4SET.BL.Example`, `2.2.0.192.Ip4Set.bl.EXAMPLE`, 'IP4SET.bl.example'], [T.ANY!, T.SOA!, T.NS!, T.A!]),
    // classes
    ...cross([v4('192.0.2.1', z), z], [T.A!, T.TXT!, T.ANY!, T.SOA!, T.NS!], { qclass: QCLASS.CH }),
    ...cross([v4('192.0.2.1', z), v4('192.0.2.99', z), z], [T.A!, T.TXT!, T.ANY!, T.SOA!, T.NS!, T.AAAA!], { qclass: QCLASS.ANY }),
    ...cross([v4('192.0.2.1', z), z], [T.A!, T.SOA!], { qclass: QCLASS.HS }),
    ...cross([v4('192.0.2.1', z), z], [T.A!, T.SOA!], { qclass: 0 }),
    ...cross([v4('192.0.2.1', z), z], [T.A!, T.SOA!], { qclass: 254 }),
    // header bits of ordinary queries
    ...cross([v4('192.0.2.1', z), v4('192.0.2.99', z), z], [T.A!, T.SOA!], { flags: { rd: false } }),
    ...cross([v4('192.0.2.1', z)], [T.A!], { flags: { rd: true, ra: true, ad: true, cd: true } }),
    ...cross([v4('192.0.2.1', z)], [T.A!], { flags: { rd: false, z: true } }),
    ...cross([v4('192.0.2.1', z), 'example'], [T.A!], { flags: { aa: true } }),
    ...cross([v4('192.0.2.1', z)], [T.A!], { flags: { tc: true } }),
    ...cross([v4('192.0.2.1', z), 'example'], [T.A!], { flags: { opcode: 1 } }),
    ...cross([v4('192.0.2.1', z)], [T.A!], { flags: { opcode: 2 } }),
    ...cross([v4('192.0.2.1', z)], [T.SOA!], { flags: { opcode: 4 } }),
    ...cross([v4('192.0.2.1', z)], [T.A!], { flags: { opcode: 5 } }),
    ...cross([v4('192.0.2.1', z)], [256, 65535, 253, 254, 250, 99, 65280]),
  ];
}

function cases(z: string, ips: string[], fullIps: string[] = []): Q[] {
  return [
    ...cross([z, ...fullIps.map((ip) => v4(ip, z))], ALL_TYPES),
    ...cross(ips.map((ip) => v4(ip, z)), BASIC),
  ];
}

function v6cases(z: string, addrs: string[], full: string[]): Q[] {
  return [
    ...cross([z, ...full.map((a) => v6(a, z))], ALL_TYPES),
    ...cross(addrs.map((a) => v6(a, z)), BASIC),
  ];
}

export const OUT_OF_ZONE = ['example', 'com', '.', 'x.example', '1.2.0.192.example', 'bl.example.com', 'notbl.example',
  'xbl.example', 'l.example', 'ip4set.bl.example.org', 'exampl', 'version.bind', 'localhost', 'ample'];

export const TOPICS: Topic[] = [
  { title: 'ip4set (ip4set.bl.example): values, multi-values, ranges, prefixes, octet-level exclusions', instance: 'A', queries: ip4setQueries('ip4set.bl.example') },
  {
    title: 'nested zones (bl.example parent of ip4set.bl.example), generic glue, $NS with "-" names', instance: 'A',
    queries: [
      ...cases('bl.example', ['192.0.2.1', '192.0.2.2', '192.0.2.99', '198.51.100.7', '198.51.100.8'], ['192.0.2.99']),
      ...cross(['ns.bl.example', 'www.bl.example', 'x.ns.bl.example', '2.0.192.bl.example', 'BL.example', 'nS.Bl.ExAmPlE',
        'x.ip4set.bl.example', '99.2.0.192.ip4set.bl.example', '7.100.51.198.ip4set.bl.example'], ALL_TYPES),
    ],
  },
  {
    title: 'edge.example: /8 exclusion quirk, #$ ;$ :$ prefixes, serial 0', instance: 'A',
    queries: cases('edge.example', ['10.0.0.1', '10.0.0.2', '10.255.255.255', '11.0.0.1', '11.1.0.1', '11.1.2.3', '11.1.3.3', '11.2.0.0', '12.0.0.1'], ['10.0.0.1', '11.1.0.1']),
  },
  {
    title: 'ip4tset (ip4tset.example, Upper.Example.): dataset-wide value, incomplete last line', instance: 'A',
    queries: [
      ...cases('ip4tset.example', ['192.0.2.9', '192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.0', '192.0.2.20', '192.0.2.21', '198.51.100.1', '198.51.100.2'], ['192.0.2.10']),
      ...cases('upper.example', ['192.0.2.10', '192.0.2.99'], ['192.0.2.10']),
      ...cross(['UPPER.EXAMPLE', '10.2.0.192.Upper.Example'], [T.SOA!, T.ANY!]),
    ],
  },
  {
    title: 'ip4trie (ip4trie.example, edgetrie.example): longest prefix, duplicates, /0, $TTL before $SOA 0', instance: 'A',
    queries: [
      ...cases('ip4trie.example', ['10.1.0.1', '10.1.2.3', '10.1.3.1', '10.9.0.1', '10.7.1.1', '10.8.1.1', '10.8.2.1',
        '10.10.10.10', '10.10.10.11', '10.11.0.1', '10.11.12.1', '10.11.15.255', '10.11.16.0', '10.11.12.13', '10.12.0.1',
        '10.13.255.1', '10.13.0.1', '10.14.0.0', '10.5.0.1', '127'].filter((x) => x !== '127'), ['10.11.12.13', '10.1.0.1']),
      ...cross([v6('::ffff:10.11.12.13', 'ip4trie.example'), v6('2002:0a0b:0c0d::', 'ip4trie.example')], BASIC),
      ...cases('edgetrie.example', ['1.2.3.4', '192.0.2.1', '192.0.2.127', '192.0.2.128', '192.0.2.255', '198.51.100.1',
        '198.51.100.65', '0.0.0.0', '255.255.255.255'], ['1.2.3.4']),
      ...cross([v6('2001:db8::1', 'edgetrie.example'), v6('::ffff:1.2.3.4', 'edgetrie.example')], BASIC),
    ],
  },
  {
    title: 'ip6tset (ip6tset.example)', instance: 'A',
    queries: v6cases('ip6tset.example', ['2001:db8:1:2::1', '2001:db8:1:2::5', '2001:db8:1:2::6', '2001:db8:1:2::7',
      '2001:db8:1:3::1', '2001:db8:1:4::1', '2001:db8:ffff::1', '2001:db8::1', '::ffff:192.0.2.1', '2002:c000:0201::1', '::1', '::', '::ffff:0:0', '0:0:0:1::'],
    ['2001:db8:1:2::1', '2001:db8:1:2::5']).concat(
      cross([v6('2001:db8:1:2::1', 'ip6tset.example', true), v6('2001:db8:1:2::1', 'ip6tset.example').split('.').slice(1).join('.'),
        '2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6tset.example', v4('192.0.2.1', 'ip6tset.example')], BASIC),
    ),
  },
  {
    title: 'ip6trie (ip6trie.example)', instance: 'A',
    queries: v6cases('ip6trie.example', ['2001:db8:cf00::1', '2001:db8:c000::', '2001:db8:c000:1::5', '2001:db8:d000::1',
      '2001:db8:def7:4242::1', '2001:db8:def7:4243::1', '2001:db8:42::1', '2001:db8:42::bead', '2001:db8:42::beae',
      '2001:db8:42:1000::1', '2001:db8:ab::1', '2001:db8:ac::1', '::ffff:192.0.2.1', '2002:c000:0201::1', '2002:c000:0301::1',
      '::1', '::2', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], ['2001:db8:cf00::1', '2001:db8:42::bead']).concat(
      cross([v6('2001:db8:cf00::1', 'ip6trie.example', true), v4('192.0.2.1', 'ip6trie.example'),
        `x.${v6('2001:db8:cf00::1', 'ip6trie.example')}`, v6('2001:db8:cf00::1', 'ip6trie.example').replace(/^1\./, '10.')], BASIC),
    ),
  },
  {
    title: 'mixed.example (ip4set + ip6trie): v4-mapped and 6to4 names', instance: 'A',
    queries: [
      ...cases('mixed.example', ['192.0.2.1', '192.0.3.1'], ['192.0.2.1']),
      ...cross(['::ffff:192.0.2.1', '::ffff:192.0.3.1', '2002:c000:0201::1', '2002:c000:0301::1', '2002:c000:02ff:1::',
        '2001:db8::1', '2001:db9::1'].map((a) => v6(a, 'mixed.example')), [...BASIC, T.AAAA!]),
    ],
  },
  {
    title: 'dnset (dnset.example, shared with dnset2.example): wildcards, exclusions, escapes', instance: 'A',
    queries: [
      ...cross(['dnset.example', 'x.evil.test.dnset.example', 'evil.test.dnset.example', 'test.dnset.example',
        'ok.evil.test.dnset.example'], ALL_TYPES),
      ...cross(['a.ok.evil.test', 'b.a.ok.evil.test', 'a.wild.test', 'wild.test', 'sub.wild.test', 'x.sub.wild.test',
        'y.x.sub.wild.test', 'exact.test', 'x.exact.test', 'mixed.case.test', 'MiXeD.cAsE.TeSt', 'esc\\.dot.test',
        'esc.dot.test', 'dot.test', 'abc.test', 'aBc.test', 'a\\066c.test', 'a.b.test', 'a..b.test'.replace('..', '.\\000.'),
        'name:127.0.0.3:x', 'name', 'trailing.test', 'x.deep.test', 'deep.test', 'x.a.deep.test', 'a.deep.test',
        'b.deep.test', 'x.b.deep.test', 'excl.test', 'both.test', 'x.both.test', 'test.example', 'x.test.example',
        'example', 'test', '1.2.0.192', 'Evil.Test', 'X.EVIL.TEST'].map((n) => `${n}.dnset.example`), BASIC),
      ...cross(['x.evil.test.DNSET.EXAMPLE', 'DnSeT.ExAmPlE'], [T.ANY!, T.SOA!, T.NS!]),
      ...cross(['dnset2.example', 'x.evil.test.dnset2.example', 'ok.evil.test.dnset2.example', 'a.wild.test.dnset2.example'], [...BASIC, T.SOA!, T.NS!]),
    ],
  },
  {
    title: 'generic (gen.example): A/TXT/MX, rotation, per-record TTL, glue', instance: 'A',
    queries: [
      ...cross(['gen.example', 'multi.gen.example', 'ns1.gen.example', 'ns2.gen.example', 'deep.gen.example',
        'sub.deep.gen.example', 'nonexistent.gen.example', 'MULTI.Gen.Example', 'after.gen.example'], ALL_TYPES),
      ...cross(['txtnoquote', 'quoted', 'mx', 'ttlrec', 'ttlrec2', 'in', 'short', 'upper', 'UPPER', 'hugettl', 'badmx', 'cname',
        'aaaa', 'bada', 'x.multi', '@', '2.0.0.127'].map((n) => `${n}.gen.example`), GENERIC_TYPES),
      // rotation: the same RRset many times (sorted before comparing)
      ...Array.from({ length: 6 }, () => ({ name: 'multi.gen.example', qtype: T.A! })),
      ...Array.from({ length: 4 }, () => ({ name: 'gen.example', qtype: T.NS! })),
    ],
  },
  {
    title: 'combined (comb.example): sub-datasets, subzones, merged base zone', instance: 'A',
    queries: [
      ...cross(['comb.example', 'proxies.comb.example', 'relays.comb.example', 'rhs.comb.example',
        'multihop.relays.comb.example', 'v6.comb.example', v4('127.0.0.2', 'comb.example')], ALL_TYPES),
      ...cross([
        ...['127.0.0.2', '127.0.0.10', '127.0.0.11', '127.0.0.12', '1.2.3.4'].map((ip) => v4(ip, 'comb.example')),
        ...['127.0.0.2', '127.0.0.10', '127.0.0.11'].map((ip) => v4(ip, 'proxies.comb.example')),
        ...['127.0.0.2', '127.0.0.10', '127.0.0.11'].map((ip) => v4(ip, 'relays.comb.example')),
        ...['127.0.0.2', '127.0.0.5', '127.0.1.1'].map((ip) => v4(ip, 'multihop.relays.comb.example')),
        v6('2001:db8::1', 'v6.comb.example'), v6('2001:db9::1', 'v6.comb.example'), v6('2001:db8::1', 'comb.example'),
        'bad.test.rhs.comb.example', 'x.bad.test.rhs.comb.example', 'good.test.rhs.comb.example', 'bad.test.comb.example',
        'unknown.comb.example', 'x.proxies.comb.example', 'x.multihop.relays.comb.example', 'Proxies.COMB.example',
        '2.0.0.127.PROXIES.Comb.Example',
      ], BASIC),
      ...cross(['proxies.comb.example', 'comb.example'], [T.MX!]),
    ],
  },
  {
    title: 'substitutions ($0-$9, $=) and TXT templates (subst.example, nobase.example)', instance: 'A',
    queries: [
      ...cases('subst.example', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6'], ['192.0.2.1']),
      ...cases('nobase.example', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'], []),
    ],
  },
  {
    title: 'special entries: $TIMESTAMP, $NS/$SOA variants, $TTL 0 and clamping (kw.example), expired zone', instance: 'A',
    queries: [
      ...cases('kw.example', ['192.0.2.1', '192.0.2.2'], ['192.0.2.1']),
      ...cases('expired.example', ['192.0.2.1', '192.0.2.2'], []),
    ],
  },
  {
    title: 'one zone from several datasets: merge, dedup, min TTL, first SOA/NS (multi.example)', instance: 'A',
    queries: cases('multi.example', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '198.51.100.1',
      '203.0.113.1', '203.0.113.2'], ['192.0.2.1', '192.0.2.2']),
  },
  {
    title: 'gzip data file (gz.example), $MAXRANGE4 (maxrange.example, maxtrie.example), last $TTL wins (lttl.example)', instance: 'A',
    queries: [
      ...cases('gz.example', ['192.0.2.1', '192.0.3.1'], ['192.0.2.1']),
      ...cases('maxrange.example', ['10.60.0.1', '10.61.0.1', '10.61.1.1', '10.62.0.1', '10.62.0.5', '10.62.1.1', '10.63.0.1',
        '10.64.0.1', '10.64.1.0', '10.65.0.1', '10.66.0.1', '10.66.1.1'], []),
      ...cases('maxtrie.example', ['10.70.0.1', '10.71.0.1', '1.1.1.1'], []),
      ...cases('lttl.example', ['192.0.2.1', '192.0.2.2', '192.0.2.3'], ['192.0.2.1']),
      // answers that fit in 512 bytes from big.example (255-byte template, 254-byte expansion cap)
      ...cross([v4('192.0.2.2', 'big.example'), v4('192.0.2.3', 'big.example')], BASIC),
      ...cross([v4('192.0.2.1', 'big.example'), 'big.example'], [T.A!, T.SOA!, T.NS!, T.AAAA!]),
    ],
  },
  {
    // Sizes chosen around 512 bytes: glue dropped, NS dropped, answer complete (checked against rbldnsd).
    // 7 and 8 ANY do not fit at all (rbldnsd drops records, we set TC): see the big-answer test.
    title: '512-byte limit without EDNS: additional and authority dropped, answer kept (fit.example)', instance: 'A',
    queries: [
      ...cross([1, 2, 3, 4, 5, 6, 7, 8].map((i) => v4(`192.0.2.${i}`, 'fit.example')), [T.TXT!, T.A!, T.AAAA!]),
      ...cross([1, 2, 3, 4, 5, 6].map((i) => v4(`192.0.2.${i}`, 'fit.example')), [T.ANY!]),
      ...cross(['fit.example', 'ns1.fit.example'], ALL_TYPES),
    ],
  },
  {
    title: 'zone ACLs (client 127.0.0.1): ignore, refuse, empty, pass, always listed, no match', instance: 'C',
    queries: ['ignore', 'refuse', 'empty', 'pass', 'listed', 'other'].flatMap((a) => {
      const z = `acl${a}.example`;
      return [
        ...cross([z, v4('192.0.2.1', z), v4('192.0.2.99', z), `www.${z}`, `nothing.${z}`, `2.0.192.${z}`, v6('2001:db8::1', z)],
          a === 'ignore' ? [T.A!, T.SOA!] : [T.A!, T.TXT!, T.ANY!, T.SOA!, T.NS!, T.AAAA!]),
      ];
    }),
  },
  {
    title: 'names outside every zone, version.bind (-v)', instance: 'A',
    queries: [
      ...cross(OUT_OF_ZONE, [T.A!, T.TXT!, T.SOA!, T.NS!, T.ANY!]),
      ...cross(['version.bind', 'version.server', 'VERSION.Bind', 'hostname.bind', 'id.server', 'authors.bind', 'version.bind.example',
        'x.version.bind'], [T.TXT!, T.A!, T.ANY!, T.SOA!], { qclass: QCLASS.CH }),
      ...cross(['version.bind', 'version.server'], [T.TXT!], { qclass: QCLASS.CH, flags: { rd: false, ad: true, cd: true } }),
      ...cross(['version.bind', 'version.server'], [T.TXT!], { qclass: QCLASS.ANY }),
      ...cross(['version.bind'], [T.TXT!], { qclass: QCLASS.HS }),
      ...cross(['version.bind'], [T.TXT!], { qclass: QCLASS.IN }),
    ],
  },
  { title: 'instance B (-a -e -t 5m:1m:10m -vv): ip4set', instance: 'B', queries: ip4setQueries('ip4set.bl.example') },
  {
    title: 'instance B (-a -e -t 5m:1m:10m -vv): other datasets, TTL clamps, lazy NS', instance: 'B',
    queries: [
      ...cross(['bl.example', 'ns.bl.example', v4('192.0.2.99', 'bl.example')], ALL_TYPES),
      ...cases('edge.example', ['10.0.0.1', '11.1.2.3', '11.0.0.1'], []),
      ...cases('ip4trie.example', ['10.11.12.13', '10.1.2.3', '10.13.0.1'], ['10.11.12.13']),
      ...v6cases('ip6trie.example', ['2001:db8:cf00::1', '2001:db8:1::1', '2001:db8:1::2'], ['2001:db8:cf00::1']),
      ...cross(['x.evil.test', 'a.wild.test', 'ok.evil.test'].map((n) => `${n}.dnset.example`), BASIC),
      ...cross(['gen.example', 'multi.gen.example', 'ttlrec.gen.example', 'hugettl.gen.example', 'after.gen.example'], GENERIC_TYPES),
      ...cross(['gen.example'], [T.SOA!, T.NS!]),
      ...cross(['comb.example', v4('127.0.0.2', 'comb.example'), 'proxies.comb.example'], ALL_TYPES),
      ...cases('kw.example', ['192.0.2.1'], []),
      ...cases('multi.example', ['192.0.2.1', '192.0.2.2', '192.0.2.4'], []),
      ...cross(['version.bind', 'version.server'], [T.TXT!], { qclass: QCLASS.CH }),
    ],
  },
];
