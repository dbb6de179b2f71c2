// rbldnsd `acl` datasets in the responder: the global ACL before parsing, the zone ACL after
// zone selection, their precedence, and how every dataset type answers under `empty` and
// "always listed". Expected answers are rbldnsd's for the same data (checked against the
// oracle from loopback source addresses; test/integration/rbldnsd-acl.test.ts compares them
// end to end).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { Counters } from '../../server/counters.ts';
import { Responder } from '../../server/responder.ts';
import { ZoneTable } from '../../server/zones.ts';
import type { AclDataset } from '../../core/datasets/acl.ts';
import { dataset, query } from './helpers.ts';

const SOA = '$SOA 1h ns1.example.net hostmaster.example.net 11 1h 10m 1w 3m\n$NS 1h ns1.example.net\n';
const DATA = `${SOA}:127.0.0.2:data $\n192.0.2.1\n`;
const GEN = 'www A 127.0.0.8\n@ TXT "apex record"\n';
const DN = 'evil.test :127.0.0.4:dn $\n';
const V6 = '2001:db8::/32 :127.0.0.6:v6 $\n';
const COMB = `${SOA}$DATASET ip4set sub\n:127.0.0.3:comb $\n192.0.2.1\n$DATASET generic sub\nwww A 127.0.0.5\n`;

const ZACL = [
  '127.0.0.2 :ignore', '127.0.0.3 :refuse', '127.0.0.4 :empty', '127.0.0.5 :127.0.0.9:zone $', '127.0.0.6 :pass',
  '127.0.0.0/8 :refuse', '::1 :127.0.0.10:v6 client $', '::ffff:7f00:0/104 :empty', '',
].join('\n');
const GACL = '$TTL 55\n10.0.0.1 :ignore\n10.0.0.2 :refuse\n10.0.0.3 :empty\n10.0.0.4 :127.0.0.7:global $\n10.0.0.5 :pass\n';
const ZACL2 = '$TTL 77\n10.0.0.2 :pass\n10.0.0.3 :127.0.0.8:zone $\n10.0.0.4 :127.0.0.8:zone $\n10.0.0.5 :empty\n10.0.0.6 :refuse\n';

const acl = (text: string) => dataset('acl', text) as AclDataset;

function zones(): ZoneTable {
  const data = dataset('ip4set', DATA);
  return new ZoneTable([
    {
      name: 'z.example', newestMtime: 1, acl: acl(ZACL),
      datasets: [data, dataset('generic', GEN), dataset('dnset', DN), dataset('ip6trie', V6)],
    },
    { name: 'c.example', newestMtime: 1, acl: acl(ZACL), datasets: [dataset('combined', COMB)] },
    { name: 'open.example', newestMtime: 1, datasets: [data] },
  ]);
}

function globalZones(): ZoneTable {
  const data = dataset('ip4set', DATA);
  return new ZoneTable(
    [
      { name: 'z.example', newestMtime: 1, acl: acl(ZACL2), datasets: [data] },
      { name: 'y.example', newestMtime: 1, datasets: [data] },
      { name: 'broken.example', newestMtime: 0, datasets: [], failed: true },
    ],
    undefined,
    { globalAcl: acl(GACL) },
  );
}

function responder(t: ZoneTable, counters = new Counters()): Responder {
  return new Responder({ lazy: false, version: 'version', versionText: 'q', maxUdpPayload: 4096, acl: null, counters }, t);
}

interface RR {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}
interface Reply {
  rcode: string;
  aa: boolean;
  answers: string[];
  authorities: string[];
}

function show(rr: RR): string {
  const d = rr.type === 'TXT' ? (rr.data as Buffer[]).map((b) => b.toString('latin1')).join('') : typeof rr.data === 'object' ? 'obj' : String(rr.data);
  return `${rr.type} ${rr.ttl} ${d}`;
}

/** Asks `name type` as `client` (text, or bytes as the UDP batch listener passes them). */
function ask(r: Responder, client: string, name: string, type: string, peer: Uint8Array | null = null, klass = 'IN'): Reply | null {
  const msg = query(name, type, { questions: [{ name, type: type as 'A', class: klass as 'IN' }] });
  const n = r.respond(msg, msg.length, client, false, peer);
  if (n === 0) return null;
  const p = dnsPacket.decode(Buffer.from(r.out.subarray(0, n))) as unknown as {
    rcode: string; flag_aa: boolean; answers: RR[]; authorities: RR[];
  };
  return { rcode: p.rcode, aa: p.flag_aa, answers: p.answers.map(show), authorities: p.authorities.map((a) => a.type) };
}

const LISTED = '2.0.192'; // 192.0.2.1 reversed is 1.2.0.192
const name = (zone: string) => `1.${LISTED}.${zone}`;

test('zone ACL: ignore drops, refuse is REFUSED without AA (apex too), pass and no entry answer normally', () => {
  const counters = new Counters();
  const r = responder(zones(), counters);
  assert.equal(ask(r, '127.0.0.2', name('z.example'), 'A'), null);
  assert.equal(ask(r, '127.0.0.2', 'z.example', 'SOA'), null);
  assert.equal(counters.dropped, 2);
  for (const [qn, qt] of [[name('z.example'), 'A'], ['z.example', 'SOA'], ['z.example', 'NS']] as const) {
    const x = ask(r, '127.0.0.3', qn, qt)!;
    assert.equal(x.rcode, 'REFUSED');
    assert.equal(x.aa, false);
    assert.deepEqual(x.answers, []);
  }
  assert.equal(ask(r, '127.0.0.99', 'z.example', 'SOA')!.rcode, 'REFUSED', 'the /8 refuse');
  const pass = ask(r, '127.0.0.6', name('z.example'), 'TXT')!;
  assert.deepEqual(pass.answers, ['TXT 2100 data 192.0.2.1']);
  // other zones and other clients are not affected
  assert.deepEqual(ask(r, '127.0.0.2', name('open.example'), 'A')!.answers, ['A 2100 127.0.0.2']);
  assert.deepEqual(ask(r, '192.0.2.77', name('z.example'), 'A')!.answers, ['A 2100 127.0.0.2']);
});

test('zone ACL empty: DNSBL names NXDOMAIN, apex SOA/NS answered, generic names NODATA (rbldnsd quirk)', () => {
  const r = responder(zones());
  const c = '127.0.0.4';
  for (const qn of [name('z.example'), `99.${LISTED}.z.example`, 'evil.test.z.example', 'nothing.z.example', '2.0.192.z.example']) {
    const x = ask(r, c, qn, 'A')!;
    assert.equal(x.rcode, 'NXDOMAIN', qn);
    assert.deepEqual(x.authorities, ['SOA']);
  }
  const v6name = `1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.z.example`;
  assert.equal(ask(r, c, v6name, 'TXT')!.rcode, 'NXDOMAIN');
  const www = ask(r, c, 'www.z.example', 'A')!;
  assert.equal(www.rcode, 'NOERROR');
  assert.deepEqual(www.answers, [], 'the existing A record is not given');
  assert.deepEqual(www.authorities, ['SOA']);
  const apex = ask(r, c, 'z.example', 'ANY')!;
  assert.deepEqual(apex.answers.map((a) => a.split(' ')[0]), ['SOA', 'NS'], 'SOA and NS, not the apex TXT');
  assert.deepEqual(ask(r, c, 'z.example', 'TXT')!.answers, []);
  // combined: sub-datasets follow the same rules, a subzone apex exists
  assert.equal(ask(r, c, name('sub.c.example'), 'A')!.rcode, 'NXDOMAIN');
  assert.equal(ask(r, c, 'www.sub.c.example', 'A')!.rcode, 'NOERROR');
  assert.deepEqual(ask(r, c, 'www.sub.c.example', 'A')!.answers, []);
  assert.equal(ask(r, c, 'sub.c.example', 'A')!.rcode, 'NOERROR');
});

test('zone ACL always listed: every DNSBL name gets the ACL value once, $ = client, TTL of the acl', () => {
  const r = responder(zones());
  const c = '127.0.0.5';
  const any = ask(r, c, `99.${LISTED}.z.example`, 'ANY')!;
  assert.equal(any.rcode, 'NOERROR');
  assert.deepEqual(any.answers, ['A 2100 127.0.0.9', 'TXT 2100 zone 127.0.0.5'], 'one A/TXT for ip4set, dnset and ip6trie together');
  assert.deepEqual(any.authorities, ['NS']);
  assert.deepEqual(ask(r, c, 'evil.test.z.example', 'A')!.answers, ['A 2100 127.0.0.9']);
  assert.deepEqual(ask(r, c, 'anything.at.all.z.example', 'TXT')!.answers, ['TXT 2100 zone 127.0.0.5'], 'dnset takes any name');
  const aaaa = ask(r, c, name('z.example'), 'AAAA')!;
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.deepEqual(aaaa.answers, []);
  assert.deepEqual(ask(r, c, 'www.z.example', 'A')!.answers, ['A 2100 127.0.0.9'], 'the dnset of the zone takes www too');
  const gen = ask(r, c, 'www.sub.c.example', 'A')!;
  assert.equal(gen.rcode, 'NOERROR');
  assert.deepEqual(gen.answers, [], 'generic alone: NODATA');
  assert.deepEqual(ask(r, c, 'z.example', 'A')!.answers, [], 'the apex is not a DNSBL name');
  assert.deepEqual(ask(r, c, name('sub.c.example'), 'TXT')!.answers, ['TXT 2100 zone 127.0.0.5']);
  assert.equal(ask(r, c, 'www.c.example', 'A')!.rcode, 'NXDOMAIN', 'outside every subzone: not found');
});

test('IPv6 clients: the v6 entries decide, v4-mapped clients included; the bytes from the transport work too', () => {
  const r = responder(zones());
  assert.deepEqual(ask(r, '::1', name('z.example'), 'TXT')!.answers, ['TXT 2100 v6 client ::1']);
  const mapped = ask(r, '::ffff:127.0.0.2', name('z.example'), 'A')!;
  assert.equal(mapped.rcode, 'NXDOMAIN', 'empty via ::ffff:7f00:0/104, not ignore via 127.0.0.2');
  const b16 = new Uint8Array(16);
  b16[15] = 1;
  assert.deepEqual(ask(r, 'ignored', name('z.example'), 'TXT', b16)!.answers, ['TXT 2100 v6 client ::1']);
  assert.equal(ask(r, 'ignored', name('z.example'), 'A', Uint8Array.of(127, 0, 0, 2)), null);
  assert.equal(ask(r, 'ignored', name('z.example'), 'A', Uint8Array.of(127, 0, 0, 3))!.rcode, 'REFUSED');
  assert.equal(ask(r, 'not an address', name('z.example'), 'A')!.rcode, 'NOERROR', 'an unknown client matches nothing');
});

test('global ACL: before parsing; combined with the zone ACL (ignore > refuse > empty > listed); global value wins', () => {
  const counters = new Counters();
  const r = responder(globalZones(), counters);
  // ignore: nothing at all, even version.bind and garbage
  assert.equal(ask(r, '10.0.0.1', 'version.bind', 'TXT', null, 'CH'), null);
  assert.equal(r.respond(Buffer.from([1, 2, 3]), 3, '10.0.0.1', false), 0);
  // refuse: after zone selection (version.bind still answered), zone pass cannot undo it
  assert.equal(ask(r, '10.0.0.2', 'version.bind', 'TXT', null, 'CH')!.rcode, 'NOERROR');
  assert.equal(ask(r, '10.0.0.2', name('z.example'), 'A')!.rcode, 'REFUSED');
  assert.equal(ask(r, '10.0.0.2', name('y.example'), 'A')!.rcode, 'REFUSED');
  assert.equal(ask(r, '10.0.0.2', 'www.outside.example', 'A')!.rcode, 'REFUSED');
  // empty beats the zone's always-listed
  assert.equal(ask(r, '10.0.0.3', name('z.example'), 'A')!.rcode, 'NXDOMAIN');
  assert.deepEqual(ask(r, '10.0.0.3', 'z.example', 'SOA')!.answers.length, 1);
  // both always listed: the global value and TTL
  assert.deepEqual(ask(r, '10.0.0.4', name('z.example'), 'ANY')!.answers, ['A 55 127.0.0.7', 'TXT 55 global 10.0.0.4']);
  assert.deepEqual(ask(r, '10.0.0.4', name('y.example'), 'TXT')!.answers, ['TXT 55 global 10.0.0.4']);
  // global pass, zone empty
  assert.equal(ask(r, '10.0.0.5', name('z.example'), 'A')!.rcode, 'NXDOMAIN');
  assert.deepEqual(ask(r, '10.0.0.5', name('y.example'), 'A')!.answers, ['A 2100 127.0.0.2']);
  // zone refuse only in its zone; zone-only always-listed uses the zone TTL
  assert.equal(ask(r, '10.0.0.6', name('z.example'), 'A')!.rcode, 'REFUSED');
  assert.equal(ask(r, '10.0.0.6', name('y.example'), 'A')!.rcode, 'NOERROR');
  // a zone that is not loaded: SERVFAIL comes before the refuse
  assert.equal(ask(r, '10.0.0.2', name('broken.example'), 'A')!.rcode, 'SERVFAIL');
  assert.equal(counters.dropped, 2);
});

test('no ACL anywhere: the table says so and answers do not depend on the client', () => {
  const t = new ZoneTable([{ name: 'open.example', newestMtime: 1, datasets: [dataset('ip4set', DATA)] }]);
  assert.equal(t.aclInUse, false);
  const r = responder(t);
  assert.deepEqual(ask(r, 'not even an address', name('open.example'), 'A')!.answers, ['A 2100 127.0.0.2']);
  assert.equal(zones().aclInUse, true);
  assert.equal(globalZones().aclInUse, true);
});
