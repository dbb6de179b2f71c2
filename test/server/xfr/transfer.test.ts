// AXFR and IXFR from an in-process primary, asked by kdig (the real client a secondary uses)
// and by raw sockets where kdig cannot do the bad thing (stop reading, skew its clock).

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import { buildQuery, parseMessage } from '../../../core/dns/message.ts';
import { findTsig, prepareKey, signQuery } from '../../../core/dns/tsig.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { ZoneTable } from '../../../server/zones.ts';
import { dig, toolsOrSkip, udpExchange } from '../helpers.ts';
import { aRecords, defaultTransfer, kdig, keyArg, meta, OTHER_SECRET, recText, SECRET, startPrimary, zone, type Primary } from './helpers.ts';

const skip = toolsOrSkip(['kdig', 'dig']);
const primaries: Primary[] = [];
after(async () => {
  for (const p of primaries) await p.stop();
});

async function primary(...args: Parameters<typeof startPrimary>): Promise<Primary> {
  const p = await startPrimary(...args);
  primaries.push(p);
  return p;
}

const txt: ZoneRecord = { name: '*.5', type: 16, ttl: 300, data: 'listed, see http://x.example/?$' };
const mx: ZoneRecord = { name: 'mail', type: 15, ttl: 300, data: '10 mx.example.' };

describe('zone transfers (AXFR/IXFR) with TSIG and the acl', { skip }, () => {
  test('AXFR with a key: SOA first and last, every record once, all messages signed', async () => {
    const recs = [...aRecords(3000), txt, mx];
    const p = await primary([zone('main.test', recs, 10), zone('closed.test', aRecords(2), 1)], defaultTransfer);
    const r = await kdig(p.port, 'main.test', keyArg(), ['AXFR']);
    assert.deepEqual(r.errors, [], r.out.slice(-500));
    assert.equal(r.records[0]!.type, 'SOA');
    assert.equal(r.records.at(-1)!.type, 'SOA');
    assert.match(r.records[0]!.data, /^ns1\.example\. hostmaster\.example\. 10 3600 600 86400 60$/);
    const body = r.records.slice(1, -1).map(recText).sort();
    const want = [
      'main.test. 300 NS ns1.example.',
      ...recs.map((x) => `${x.name}.main.test. ${x.ttl} ${x.type === 1 ? 'A' : x.type === 16 ? 'TXT' : 'MX'} ${x.type === 16 ? `"${x.data}"` : x.data}`),
    ].sort();
    assert.deepEqual(body, want);
    // several messages (3000 records > 64 KiB? no: make sure kdig says how many it got)
    assert.match(r.out, /Received \d+ B \(\d+ messages?, 3005 records\)/);
    // hmac-sha512 key works too
    const r2 = await kdig(p.port, 'main.test', keyArg('other-key', OTHER_SECRET, 'hmac-sha512'), ['AXFR']);
    assert.deepEqual(r2.errors, []);
    assert.equal(r2.records.length, 3005);
    const logged = p.log.find('zone transfer').at(-1)!;
    assert.equal(logged.zone, 'main.test');
    assert.equal(logged.key, 'other-key');
    assert.equal(logged.kind, 'AXFR');
    assert.equal(logged.records, 3005);
  });

  test('a zone of many messages (past 64 KiB each) arrives whole and in order', async () => {
    const p = await primary([zone('big.test', aRecords(20_000), 7)], defaultTransfer);
    const r = await kdig(p.port, 'big.test', keyArg(), ['AXFR']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.records.length, 20_003);
    const m = /\((\d+) messages/.exec(r.out);
    assert.ok(m && Number(m[1]) > 1, r.out.slice(-300));
  });

  test('refused: no key, wrong secret (BADSIG), unknown key (BADKEY), address outside the acl, key not allowed', async () => {
    const p = await primary([zone('bl.test', aRecords(10), 10), zone('closed.test', aRecords(2), 1), zone('bl.other', aRecords(2), 1)], {
      ...defaultTransfer,
      acl: { ...defaultTransfer.acl, 'bl.other': { allow: ['127.0.0.1'], keys: ['other-key'] } },
    });
    const cases: [string, string | null, string, RegExp, RegExp][] = [
      ['bl.test', null, 'no key', /REFUSED/, /request not signed/],
      ['bl.test', keyArg('xfr-key', OTHER_SECRET), 'wrong secret', /BADSIG/, /BADSIG/],
      ['bl.test', keyArg('nobody', SECRET), 'unknown key', /BADKEY/, /BADKEY/],
      ['closed.test', keyArg(), 'address outside the acl', /REFUSED/, /client address not in the acl/],
      ['bl.other', keyArg(), 'key not allowed for the zone', /REFUSED/, /key xfr-key is not allowed/],
      ['nowhere.test', keyArg(), 'a zone not served', /REFUSED/, /not a zone this server serves/],
    ];
    for (const [z, key, what, answer, why] of cases) {
      const before = p.log.lines.length;
      const r = await kdig(p.port, z, key, ['AXFR']);
      assert.equal(r.records.length, 0, `${what}: no records`);
      assert.match(r.errors.join('\n'), answer, `${what}: ${r.out}`);
      const logged = p.log.lines.slice(before).map((l) => `${l.msg} ${l.why}`).join('\n');
      assert.match(logged, why, what);
      // IXFR is guarded the same way
      const i = await kdig(p.port, z, key, ['IXFR=1']);
      assert.equal(i.records.length, 0, `${what} (IXFR)`);
      assert.match(i.errors.join('\n'), answer, `${what} (IXFR): ${i.out}`);
    }
    // counted for /metrics: every one refused, none served
    assert.equal(p.server.counters.xfrRefused, cases.length * 2);
    assert.equal(p.server.counters.xfrAxfr + p.server.counters.xfrIxfr, 0);
  });

  test('a request signed outside the time window: NOTAUTH, BADTIME, signed, with our time', async () => {
    const p = await primary([zone('bl.test', aRecords(10), 10)], defaultTransfer);
    const key = prepareKey({ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET });
    const skewed = Math.floor(Date.now() / 1000) - 3600;
    const { msg } = signQuery(buildQuery(77, 'bl.test', 252), key, skewed);
    const [reply] = await tcpExchange(p.port, msg, 1);
    const m = parseMessage(reply!);
    assert.equal(m.rcode, 9); // NOTAUTH
    const t = findTsig(m)!;
    assert.equal(t.error, 18); // BADTIME
    assert.ok(t.mac.length > 0, 'BADTIME answers are signed');
    assert.equal(t.other.length, 6);
    assert.ok(Math.abs(t.other.readUIntBE(0, 6) - Date.now() / 1000) < 60, 'Other Data holds the server time');
  });

  test('IXFR: current serial -> one SOA; older -> only the difference; past the journal -> full zone', async () => {
    const base = aRecords(500);
    const p = await primary([zone('bl.test', base, 10)], { ...defaultTransfer, journal: 2 });
    const key = keyArg();
    const up = await kdig(p.port, 'bl.test', key, ['IXFR=10']);
    assert.deepEqual(up.records.map(recText), ['bl.test. 300 SOA ns1.example. hostmaster.example. 10 3600 600 86400 60']);

    // serial 11: one record gone, two added (a reload swaps in a new table)
    const v11 = [...base.slice(1), { name: 'new1', type: 1, ttl: 300, data: '127.0.0.3' }, txt];
    p.server.swap(new ZoneTable([zone('bl.test', v11, 11)]));
    await p.svc.versions.settle();
    assert.equal(p.svc.versions.current('bl.test')!.serial, 11);
    const d = await kdig(p.port, 'bl.test', key, ['IXFR=10']);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(d.records.map((r) => `${r.type} ${r.type === 'SOA' ? r.data.split(' ')[2] : r.name}`), [
      'SOA 11', 'SOA 10', 'A 0.0.0.10.bl.test.', 'SOA 11', 'A new1.bl.test.', 'TXT *.5.bl.test.', 'SOA 11',
    ]);
    assert.match(String(p.log.find('zone transfer').at(-1)!.style), /incremental from 10/);

    // two more versions: the journal (2) no longer reaches 10 -> the whole zone, AXFR-style
    p.server.swap(new ZoneTable([zone('bl.test', v11.slice(1), 12)]));
    await p.svc.versions.settle();
    p.server.swap(new ZoneTable([zone('bl.test', v11.slice(2), 13)]));
    await p.svc.versions.settle();
    const full = await kdig(p.port, 'bl.test', key, ['IXFR=10']);
    assert.deepEqual(full.errors, []);
    assert.equal(full.records.length, v11.length - 2 + 3); // SOA, NS, records, SOA
    assert.equal(full.records[0]!.type, 'SOA');
    assert.equal(full.records[1]!.type, 'NS');
    assert.match(String(p.log.find('zone transfer').at(-1)!.style), /journal does not reach 10/);
    // 11 is still in the journal: two difference sequences
    const two = await kdig(p.port, 'bl.test', key, ['IXFR=11']);
    assert.deepEqual(two.records.filter((r) => r.type === 'SOA').map((r) => r.data.split(' ')[2]), ['13', '11', '12', '12', '13', '13']);
  });

  test('IXFR over UDP answers the SOA only; AXFR over UDP is NOTIMP', async () => {
    const p = await primary([zone('bl.test', aRecords(50), 10)], defaultTransfer);
    const r = parseMessage((await udpExchange(p.port, buildQuery(5, 'bl.test', 251)))!);
    assert.equal(r.rcode, 0);
    assert.deepEqual(r.answers.map((x) => x.type), [6]);
    const a = parseMessage((await udpExchange(p.port, buildQuery(6, 'bl.test', 252)))!);
    assert.equal(a.rcode, 4);
    assert.equal(a.answers.length, 0);
  });

  test('a serial raised in place (the merged zones) gives a new version and an IXFR of the change', async () => {
    const live = { serial: 100 };
    const ds = new MutableDataset(aRecords(20), meta(0, { liveSerial: live }));
    const p = await primary([{ name: 'bl.test', datasets: [ds], newestMtime: 0 }], defaultTransfer);
    const seen: [string, number][] = [];
    p.svc.onNewVersion((z, s) => seen.push([z, s]));
    ds.list = [...ds.list, { name: 'added', type: 1, ttl: 300, data: '127.0.0.4' }];
    live.serial = 101;
    await p.svc.versions.settle();
    assert.deepEqual(seen, [['bl.test', 101]]);
    const d = await kdig(p.port, 'bl.test', keyArg(), ['IXFR=100']);
    assert.deepEqual(d.records.map((r) => `${r.type} ${r.type === 'SOA' ? r.data.split(' ')[2] : r.name}`), ['SOA 101', 'SOA 100', 'SOA 101', 'A added.bl.test.', 'SOA 101']);
  });

  test('a materialisation that throws keeps the previous version; a dataset without records() is REFUSED', async () => {
    const live = { serial: 5 };
    const ds = new MutableDataset(aRecords(20), meta(0, { liveSerial: live }));
    const noRecords = { ...new RecordsDataset(aRecords(3), meta(1)), records: undefined, query: () => false } as unknown as Dataset;
    const p = await primary([{ name: 'bl.test', datasets: [ds], newestMtime: 0 }, { name: 'plain.test', datasets: [noRecords], newestMtime: 0 }], defaultTransfer);
    ds.fail = true;
    live.serial = 6;
    await p.svc.versions.settle();
    assert.equal(p.svc.versions.current('bl.test')!.serial, 5);
    assert.equal(p.svc.versions.state('bl.test')!.failures, 1);
    assert.equal(p.server.counters.xfrMaterialiseFailed, 1);
    const r = await kdig(p.port, 'bl.test', keyArg(), ['AXFR']);
    assert.equal(r.records.length, 23);
    assert.match(r.records[0]!.data, / 5 3600/);
    const n = await kdig(p.port, 'plain.test', keyArg(), ['AXFR']);
    assert.match(n.errors.join('\n'), /REFUSED/);
    assert.match(String(p.log.find('zone transfer refused').at(-1)!.why), /not transferable/);
  });

  test('a client that stops reading: UDP keeps answering, at most a few messages are buffered, the connection is closed', async () => {
    const p = await primary([zone('bl.test', aRecords(300_000), 3)], defaultTransfer, { drainTimeoutMs: 1500 });
    const key = prepareKey({ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET });
    const { msg } = signQuery(buildQuery(9, 'bl.test', 252), key);
    const s = new Socket();
    await new Promise<void>((res) => s.connect(p.port, '127.0.0.1', res));
    s.pause(); // never read
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    s.write(Buffer.concat([len, msg]));
    // While it is stuck, UDP answers every query.
    for (let i = 0; i < 20; i++) {
      const r = await dig(p.port, ['+notcp', `${i}.0.0.10.bl.test`, 'A']);
      assert.deepEqual(r.answer.map((x) => x.data), ['127.0.0.2']);
    }
    // The transfer is cut off when the socket does not drain; what was handed to the socket
    // is a fraction of the zone (the rest never built).
    await waitFor(() => p.log.find('zone transfer cut off: the connection closed or stopped reading').length > 0, 'cut off');
    const cut = p.log.find('zone transfer cut off: the connection closed or stopped reading')[0]!;
    const whole = 300_000 * 28;
    assert.ok((cut.bytes as number) < whole / 2, `bytes handed over ${cut.bytes} of ~${whole}`);
    assert.equal(p.server.counters.tcpStalled, 1);
    assert.equal(p.server.counters.xfrFailed, 1);
    s.destroy();
    // and the server still transfers to others
    const r = await kdig(p.port, 'bl.test', keyArg(), ['IXFR=3']);
    assert.equal(r.records.length, 1);
  });

  test('without a transfer handler AXFR/IXFR over TCP are REFUSED', async () => {
    const p = await primary([zone('bl.test', aRecords(5), 10)], defaultTransfer);
    p.server.setTransferHandler(null);
    const r = await kdig(p.port, 'bl.test', keyArg(), ['AXFR']);
    assert.match(r.errors.join('\n'), /REFUSED/);
  });

  test('queries pipelined behind a transfer are answered after it', async () => {
    const p = await primary([zone('bl.test', aRecords(5000), 10)], defaultTransfer);
    const key = prepareKey({ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET });
    const { msg } = signQuery(buildQuery(1, 'bl.test', 252), key);
    const q = buildQuery(2, '1.0.0.10.bl.test', 1);
    const msgs = await tcpExchange(p.port, Buffer.concat([frame(msg), frame(q)].map((b) => b)), -1, true);
    const ids = msgs.map((b) => b.readUInt16BE(0));
    assert.ok(ids.length >= 2);
    assert.ok(ids.slice(0, -1).every((i) => i === 1), 'the transfer messages first');
    assert.equal(ids.at(-1), 2);
    const last = parseMessage(msgs.at(-1)!);
    assert.equal(last.answers.length, 1);
  });
});

/** A dataset whose records change in place (as the merged zones do between serials). */
class MutableDataset implements Dataset {
  readonly type = 'mutable';
  readonly ttl = 300;
  fail = false;
  constructor(public list: ZoneRecord[], readonly meta: Dataset['meta']) {}
  get size() {
    return this.list.length;
  }
  query(): boolean {
    return false;
  }
  dump(): void {}
  snapshot(): never {
    throw new Error('no snapshot');
  }
  *records(): Iterable<ZoneRecord> {
    if (this.fail) throw new Error('evidence store unreadable');
    const list = this.list;
    yield* list;
  }
}

function frame(m: Buffer): Buffer {
  const l = Buffer.alloc(2);
  l.writeUInt16BE(m.length);
  return Buffer.concat([l, m]);
}

/** Sends `data` (framed unless `raw`) and collects `count` messages (-1: until the last id-2 reply or close). */
function tcpExchange(port: number, data: Buffer, count: number, raw = false): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    const got: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout after ${got.length} messages`));
    }, 20_000);
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(got);
    };
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        got.push(Buffer.from(m));
        buf = buf.subarray(2 + m.length);
        if (got.length === count || (count < 0 && m.readUInt16BE(0) === 2)) return done();
      }
    });
    s.on('close', done);
    s.on('error', reject);
    s.connect(port, '127.0.0.1', () => s.write(raw ? data : frame(data)));
  });
}

async function waitFor(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
