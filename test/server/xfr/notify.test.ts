// NOTIFY against a real knotd secondary (TSIG; a right and a wrong key), a target that never
// answers (tries, then one logged failure), and a newer serial replacing a pending one.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { Notifier, parseTarget, NotifyError } from '../../../server/xfr/notify.ts';
import { soaSerial, startKnotPrimary, startSecondary, type KnotPrimary, type Secondary } from '../../integration/secondaries.ts';
import { poll, toolsOrSkip } from '../../integration/helpers.ts';

const key = { name: 'xfr-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7).toString('base64') };
const wrong = { name: 'xfr-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 9).toString('base64') };
const zoneText = (serial: number) =>
  `$ORIGIN bl.test.\n$TTL 60\n@ SOA ns.bl.test. h.bl.test. ${serial} 3600 3600 86400 60\n@ NS ns.bl.test.\nns A 127.0.0.1\n2.0.0.127 A 127.0.0.2\n`;

/** A logger whose warn lines are kept. */
function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

describe('parseTarget', () => {
  test('host:port, [v6]:port, an address alone; anything else is an error naming it', () => {
    assert.deepEqual(parseTarget('127.0.0.1:5300'), { host: '127.0.0.1', port: 5300 });
    assert.deepEqual(parseTarget('[::1]:5300'), { host: '::1', port: 5300 });
    assert.deepEqual(parseTarget('::1'), { host: '::1', port: 53 });
    assert.deepEqual(parseTarget('192.0.2.1'), { host: '192.0.2.1', port: 53 });
    assert.throws(() => parseTarget('ns1.example:53'), (e: Error) => e instanceof NotifyError && /ns1\.example:53/.test(e.message));
  });

  test('a key not in transfer.keys is an error naming the target and the key', () => {
    assert.throws(
      () => new Notifier({ targets: [{ address: '127.0.0.1:53', key: 'nope', zones: ['*'] }], keys: [key], log: capture().log }),
      /127\.0\.0\.1:53: key "nope"/,
    );
  });
});

describe('NOTIFY to knotd', { skip: toolsOrSkip(['knotd', 'knotc']) }, () => {
  let prim: KnotPrimary;
  let sec: Secondary;
  const notifiers: Notifier[] = [];
  after(async () => {
    for (const n of notifiers) n.close();
    await sec?.stop();
    await prim?.stop();
  });

  test('a signed NOTIFY is answered and the secondary transfers the new serial at once', async () => {
    prim = await startKnotPrimary({ 'bl.test': zoneText(1) }, key); // the primary notifies nobody itself
    sec = await startSecondary({ kind: 'knot', primary: { host: '127.0.0.1', port: prim.port }, key, zones: ['bl.test'] });
    assert.equal(await sec.waitSerial('bl.test'), 1);
    await prim.setZone('bl.test', zoneText(2));
    await poll(async () => ((await soaSerial('127.0.0.1', prim.port, 'bl.test')) === 2 ? true : undefined), 'the primary to serve serial 2');
    const { log, lines } = capture();
    const n = new Notifier({ targets: [{ address: `127.0.0.1:${sec.port}`, key: 'xfr-key', zones: ['bl.test'] }], keys: [key], log });
    notifiers.push(n);
    assert.equal(n.notify('bl.test.', 2), 1);
    assert.equal(n.notify('other.test', 2), 0, 'a zone the target does not list is not sent');
    // Knot's refresh is 3600 s: only the NOTIFY brings serial 2 within the wait
    assert.equal(await sec.waitSerial('bl.test', 2, 15000), 2);
    await poll(async () => (n.answered === 1 ? true : undefined), 'the NOTIFY to be answered');
    assert.equal(n.failed, 0, JSON.stringify(lines));
    assert.equal(n.inFlight, 0);
  });

  test('a wrong key: knotd refuses it, one failure is logged with the target and zone, no retries', async () => {
    const { log, lines } = capture();
    const failures: string[] = [];
    const n = new Notifier({
      targets: [{ address: `127.0.0.1:${sec.port}`, key: 'xfr-key', zones: ['*'] }],
      keys: [wrong],
      log,
      onFailure: (t, z, why) => failures.push(`${t} ${z} ${why}`),
    });
    notifiers.push(n);
    n.notify('bl.test', 3);
    await poll(async () => (n.failed === 1 ? true : undefined), 'the NOTIFY to fail');
    assert.equal(n.answered, 0);
    assert.match(failures[0]!, new RegExp(`^127\\.0\\.0\\.1:${sec.port} bl\\.test (answered NOTAUTH|answered REFUSED|bad answer)`));
    const warn = lines.find((l) => l.level === 40)!;
    assert.equal(warn.target, `127.0.0.1:${sec.port}`);
    assert.equal(warn.zone, 'bl.test');
  });
});

describe('NOTIFY to a target that does not answer', () => {
  test('sent `tries` times with growing waits, then one failure; a newer serial replaces the pending one', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
    const got: Buffer[] = [];
    sink.on('message', (m) => got.push(m));
    const { log, lines } = capture();
    const n = new Notifier({ targets: [{ address: `127.0.0.1:${sink.address().port}`, zones: ['*'] }], keys: [], log, tries: 3, firstWaitMs: 50 });
    try {
      n.notify('bl.test', 5);
      n.notify('bl.test', 6); // replaces serial 5 before its first wait ends
      await poll(async () => (n.failed >= 1 ? true : undefined), 'the NOTIFY to be given up', { intervalMs: 20 });
      // the first send of serial 5, then 3 sends of serial 6
      await poll(async () => (got.length >= 4 ? true : undefined), 'the packets to arrive', { intervalMs: 20 });
      assert.equal(got.length, 4);
      for (const m of got) assert.equal((m.readUInt16BE(2) >> 11) & 0xf, 4, 'opcode NOTIFY');
      assert.equal(n.failed, 1, 'serial 5 is replaced, not failed');
      const warns = lines.filter((l) => l.level === 40);
      assert.equal(warns.length, 1);
      assert.equal(warns[0]!.serial, 6);
      assert.match(String(warns[0]!.why), /no answer after 3 tries/);
      assert.equal(n.inFlight, 0);
    } finally {
      n.close();
      sink.close();
    }
  });
});
