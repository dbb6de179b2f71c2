// The Replica controller against knotd, with faults between them: a transfer cut off halfway
// and a tampered message leave the last copy serving (logged, status), a later refresh applies
// the IXFR; a NOTIFY from another address is refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import { prepareKey } from '../../../core/dns/tsig.ts';
import type { Logger } from '../../../core/log.ts';
import { makeQuery } from '../../../core/query.ts';
import { Replica, type ServedZone } from '../../../sync/replica/replica.ts';
import { dig, makeTmpDir, poll, toolsOrSkip } from '../../integration/helpers.ts';
import { KnotPrimary } from '../../integration/knot-primary.ts';
import { Relay } from '../fetch/proxy.ts';

const skip = toolsOrSkip(['knotd', 'knotc', 'dig']);

function zone(serial: number, changed: number): string {
  let z = `$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster ${serial} 3600 1 3 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n`;
  for (let i = 0; i < 3000; i++) {
    const v = i < changed ? 3 : 2;
    z += `${i & 255}.${i >> 8}.51.198 IN A 127.0.0.${v}\n${i & 255}.${i >> 8}.51.198 IN TXT "entry ${i} v${v}"\n`;
  }
  return z;
}

interface Captured {
  lines: { level: string; obj: Record<string, unknown>; msg: string }[];
  log: Logger;
}

function captureLog(): Captured {
  const lines: Captured['lines'] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => {
    if (typeof obj === 'string') lines.push({ level, obj: {}, msg: obj });
    else lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  };
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger };
}

function a(ds: Dataset | null | undefined, name: string): string[] {
  const out: string[] = [];
  if (!ds) return ['(no copy)'];
  ds.query(makeQuery(name.split('.'), 1), {
    wantA: true, wantTxt: false, qtype: 1,
    a: (ip) => out.push(`${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`),
    txt: () => {}, mx: () => {},
  });
  return out;
}

describe('Replica against knotd with faults in between', { skip }, () => {
  const knot = new KnotPrimary(null, () => null);
  const dir = makeTmpDir('qbl-replica-unit-');
  const relays: Relay[] = [];
  const replicas: Replica[] = [];

  function replicaVia(port: number, c: Captured, served: { zones: readonly ServedZone[] }): Replica {
    const r = new Replica({
      primary: { host: '127.0.0.1', port, key: prepareKey({ name: knot.keyName, algorithm: 'hmac-sha256', secret: knot.secret }), connectTimeoutMs: 2000, timeoutMs: 10000, maxBytes: 1 << 26 },
      zones: ['big.test'], catalog: null, dir, log: c.log, notifyFrom: ['127.0.0.1'], firstRetry: 3600,
      makeDataset: (recs, meta) => new RecordsDataset(recs, meta),
      onChange: (z) => (served.zones = z),
    });
    replicas.push(r);
    return r;
  }

  before(async () => {
    await knot.start([{ name: 'big.test', text: zone(1, 0) }]);
    await poll(async () => ((await dig('127.0.0.1', knot.port, ['big.test', 'SOA'])).status === 'NOERROR' ? true : undefined), 'knotd');
  });

  after(async () => {
    for (const r of replicas) r.stop();
    for (const r of relays) await r.stop();
    await knot.stop();
  });

  test('AXFR, then a cut IXFR and a tampered one keep the last copy; the next refresh applies the IXFR; past expire it still serves', async () => {
    const served: { zones: readonly ServedZone[] } = { zones: [] };
    const c1 = captureLog();
    const r1 = replicaVia(knot.port, c1, served);
    r1.start();
    await poll(async () => (r1.status()[0]!.serial === 1 ? true : undefined), 'the AXFR');
    assert.deepEqual(a(served.zones[0]?.dataset, '5.0.51.198'), ['127.0.0.2']);
    r1.stop();

    // 1500 entries change on knotd: the IXFR holds 6000 records in several messages
    knot.writeZone('big.test', zone(2, 1500));
    await knot.ctl(['zone-reload', 'big.test']);
    await poll(async () => ((await dig('127.0.0.1', knot.port, ['big.test', 'SOA'])).answer[0]?.data.includes(' 2 3600') ? true : undefined), 'knotd serial 2');

    // cut off after 100 kB of the primary's answers: within the IXFR's messages
    const cut = await new Relay(knot.port, { cutAfter: 100_000 }).start();
    relays.push(cut);
    const c2 = captureLog();
    const r2 = replicaVia(cut.port, c2, served);
    r2.start(); // loads the saved copy (serial 1), then tries the IXFR
    assert.deepEqual(a(served.zones[0]?.dataset, '5.0.51.198'), ['127.0.0.2'], 'served from the saved copy at once');
    await poll(async () => (r2.status()[0]!.lastError ? true : undefined), 'the cut transfer to fail');
    assert.match(r2.status()[0]!.lastError!, /IXFR: connection closed after \d+ records, before the closing SOA/);
    assert.equal(r2.status()[0]!.serial, 1);
    assert.deepEqual(a(served.zones[0]?.dataset, '5.0.51.198'), ['127.0.0.2']);
    assert.ok(c2.lines.some((l) => l.level === 'warn' && l.msg.startsWith('replica: refresh failed') && l.obj.serving === 1));
    r2.stop();

    // one byte changed in the second message of the IXFR stream: its MAC no longer verifies
    const tamper = await new Relay(knot.port, {
      frame: (m, i) => {
        if (i === 2) m[m.length - 100] ^= 0xff;
        return m;
      },
    }).start();
    relays.push(tamper);
    const c3 = captureLog();
    const r3 = replicaVia(tamper.port, c3, served);
    r3.start();
    await poll(async () => (r3.status()[0]!.lastError ? true : undefined), 'the tampered transfer to fail');
    assert.match(r3.status()[0]!.lastError!, /TSIG|malformed/);
    assert.equal(r3.status()[0]!.serial, 1);
    assert.deepEqual(a(served.zones[0]?.dataset, '5.0.51.198'), ['127.0.0.2']);
    // a NOTIFY from an address that is not the primary's starts nothing
    assert.equal(r3.notify('big.test', '192.0.2.1').rcode, 5);
    assert.equal(r3.notify('other.test', '127.0.0.1').rcode, 5);
    r3.stop();

    const c4 = captureLog();
    const r4 = replicaVia(knot.port, c4, served);
    r4.start();
    await poll(async () => (r4.status()[0]!.serial === 2 ? true : undefined), 'the IXFR');
    const applied = c4.lines.find((l) => l.msg === 'replica: IXFR applied');
    assert.ok(applied, 'an IXFR, not an AXFR');
    assert.equal(applied.obj.added, 3000);
    assert.equal(applied.obj.deleted, 3000);
    assert.deepEqual(a(served.zones[0]?.dataset, '5.0.51.198'), ['127.0.0.3']);
    assert.deepEqual(a(served.zones[0]?.dataset, '220.5.51.198'), ['127.0.0.2']);

    // the primary gone past the SOA expire (3 s, retry 1 s): marked expired, still answering
    await knot.stop();
    assert.equal(r4.notify('big.test', '127.0.0.1').rcode, 0);
    await poll(async () => (r4.status()[0]!.expired ? true : undefined), 'the zone to expire', { timeoutMs: 15000 });
    assert.ok(c4.lines.some((l) => l.level === 'error' && l.msg.startsWith('replica: zone expired')));
    assert.deepEqual(a(served.zones[0]?.dataset, '5.0.51.198'), ['127.0.0.3']);
  });
});
