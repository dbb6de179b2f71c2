// AXFR against a real Knot DNS server on loopback: unsigned and TSIG-signed transfers of a
// DNSBL-style zone (big enough for several messages), a wrong key, refused/unknown zones, and
// injected faults (stream cut, tampered MAC, a server that does not start with the SOA).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { FetchError, fetchSource, type FetchOptions } from '../../../sync/fetch/index.ts';
import { parseAxfrUrl } from '../../../sync/fetch/axfr.ts';
import { loadDataset } from '../../../core/rbldnsd/reader.ts';
import { defaultLoadOptions } from '../../../core/rbldnsd/state.ts';
import { datasetType } from '../../../core/datasets/index.ts';
import { makeQuery } from '../../../core/query.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import { baseOptions, Daemon, FIXTURES, freePort, listDir, tmpDir, toolsOrSkip, waitFor } from './helpers.ts';
import { Relay } from './proxy.ts';

const skip = toolsOrSkip(['knotd'], 'knot');
const SECRET = randomBytes(32).toString('base64');
const KEY = { name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET };
const EXTRA = 4000; // generated entries: the transfer spans several messages

let knot: Daemon;
let port = 0;
let dir = '';

function zoneText(): string {
  let z = readFileSync(join(FIXTURES, 'bl.example.zone'), 'utf8');
  for (let i = 0; i < EXTRA; i++) {
    const name = `${i & 255}.${(i >> 8) & 255}.51.198`;
    z += `${name} IN A 127.0.0.2\n${name} IN TXT "generated entry ${i}"\n`;
  }
  return z;
}

async function startKnot(): Promise<void> {
  dir = tmpDir('qbl-knot-');
  port = await freePort();
  writeFileSync(join(dir, 'open.zone'), zoneText());
  writeFileSync(join(dir, 'signed.zone'), zoneText());
  writeFileSync(
    join(dir, 'knot.conf'),
    `server:
  rundir: ${dir}
  listen: 127.0.0.1@${port}
key:
  - id: ${KEY.name}
    algorithm: ${KEY.algorithm}
    secret: ${SECRET}
acl:
  - id: open
    address: 127.0.0.1
    action: transfer
  - id: keyed
    address: 127.0.0.1
    key: ${KEY.name}
    action: transfer
database:
  storage: ${dir}
zone:
  - domain: open.example
    storage: ${dir}
    file: open.zone
    acl: open
  - domain: signed.example
    storage: ${dir}
    file: signed.zone
    acl: keyed
log:
  - target: stderr
    any: warning
`,
  );
  knot = new Daemon('knotd', ['-c', join(dir, 'knot.conf')]);
  // ready when both zones are loaded and transferable
  await waitFor(async () => {
    if (!knot.running) throw new Error(`knotd exited: ${knot.output}`);
    try {
      await fetchSource(axfrOpts('open.example', { timeoutMs: 1000 }));
      await fetchSource(axfrOpts('signed.example', { timeoutMs: 1000, tsig: KEY }));
      return true;
    } catch {
      return false;
    }
  }, 'knotd to serve the zones');
}

function axfrOpts(zone: string, over: Partial<FetchOptions> = {}, p = port): FetchOptions {
  return baseOptions(`axfr://127.0.0.1:${p}/${zone}`, join(tmpDir(), 'staging', 'zone.txt'), { timeoutMs: 10_000, ...over });
}

async function fails(p: Promise<unknown>, re: RegExp): Promise<FetchError> {
  let err: unknown;
  await p.then(() => assert.fail('expected a FetchError'), (e) => (err = e));
  assert.ok(err instanceof FetchError, `not a FetchError: ${String(err)}`);
  assert.match(err.message, re);
  return err;
}

function loadGeneric(file: string): { ds: Dataset; warnings: string[] } {
  const warnings: string[] = [];
  const r = loadDataset(datasetType('generic')!, [file], defaultLoadOptions({ warn: (at, m) => warnings.push(`${at.line}: ${m}`) }));
  return { ds: r.dataset, warnings };
}

function answers(ds: Dataset, name: string, qtype: number): string[] {
  const out: string[] = [];
  const labels = name.split('.').filter(Boolean);
  ds.query(makeQuery(labels, qtype), {
    wantA: qtype === 1 || qtype === 255,
    wantTxt: qtype === 16 || qtype === 255,
    qtype,
    a: (ip) => out.push(`A ${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`),
    txt: (t) => out.push(`TXT ${t}`),
    mx: (p, x) => out.push(`MX ${p} ${x}`),
  });
  return out;
}

describe('AXFR from knotd', { skip }, () => {
  before(startKnot, { timeout: 30_000 });
  after(() => knot?.stop());

  test('an unsigned transfer is written as a generic dataset that core loads without warnings', async () => {
    const o = axfrOpts('open.example');
    let progress = 0;
    const r = await fetchSource({ ...o, onProgress: (b) => (progress = b) });
    assert.equal(r.status, 'fetched');
    assert.ok(r.status === 'fetched' && r.validators.etag === '2024060101');
    const text = readFileSync(o.dest, 'latin1');
    assert.equal(r.status === 'fetched' && r.bytes, Buffer.byteLength(text, 'latin1'));
    assert.equal(progress, Buffer.byteLength(text, 'latin1'));
    const lines = text.split('\n');
    assert.match(lines[0]!, /^# AXFR of open\.example from 127\.0\.0\.1:\d+, serial 2024060101$/);
    assert.equal(lines[1], '$SOA 300 ns1.open.example. hostmaster.open.example. 2024060101 3600 600 86400 300');
    assert.ok(lines.includes('2.0.0.127 300 IN A 127.0.0.2'));
    assert.ok(lines.includes('2.0.0.127 300 IN TXT "Listed: test point, see http://example.org/lookup?ip=127.0.0.2"'));
    assert.ok(lines.includes('4.0.0.127 300 IN TXT "two strings"'));
    assert.ok(lines.includes('mail 300 IN MX 10 mx.example.net.'));
    assert.ok(lines.includes('# ns1 300 IN AAAA ::1'));
    assert.ok(lines.includes('$NS 300 ns1.open.example. ns2.example.net.') || lines.includes('$NS 300 ns2.example.net. ns1.open.example.'));
    assert.equal(lines.filter((l) => l.includes('generated entry')).length, EXTRA);
    assert.deepEqual(listDir(join(o.dest, '..')), ['zone.txt']);

    const { ds, warnings } = loadGeneric(o.dest);
    assert.deepEqual(warnings, []);
    assert.equal(ds.meta.soa?.serial, 2024060101);
    assert.deepEqual(ds.meta.ns?.names.map((n) => n.toLowerCase()).sort(), ['ns1.open.example', 'ns2.example.net']);
    assert.deepEqual(answers(ds, '2.0.0.127', 255).sort(), ['A 127.0.0.2', 'TXT Listed: test point, see http://example.org/lookup?ip=127.0.0.2']);
    assert.deepEqual(answers(ds, '7.15.51.198', 16), [`TXT generated entry ${15 * 256 + 7}`]);
  });

  test('the stored serial makes the next sync not-modified (a SOA query, no transfer)', async () => {
    const o = axfrOpts('open.example', { validators: { etag: '2024060101' } });
    assert.deepEqual(await fetchSource(o), { status: 'not-modified' });
    assert.equal(existsSync(o.dest), false);
    const changed = await fetchSource(axfrOpts('open.example', { validators: { etag: '2024010101' } }));
    assert.equal(changed.status, 'fetched');
  });

  test('a TSIG-signed transfer verifies every message', async () => {
    let frames = 0;
    let signed = 0;
    const relay = await new Relay(port, {
      frame: (msg) => {
        frames++;
        if (msg.readUInt16BE(10) > 0) signed++; // ARCOUNT: the TSIG record
        return msg;
      },
    }).start();
    const o = axfrOpts('signed.example', { tsig: KEY }, relay.port);
    const r = await fetchSource(o).finally(() => relay.stop());
    assert.ok(frames >= 3, `a multi-message transfer (${frames} messages)`);
    assert.ok(signed >= 2, `${signed} signed messages`);
    assert.equal(r.status, 'fetched');
    const { ds, warnings } = loadGeneric(o.dest);
    assert.deepEqual(warnings, []);
    assert.deepEqual(answers(ds, '2.0.0.127', 1), ['A 127.0.0.2']);
    assert.deepEqual(answers(ds, `${(EXTRA - 1) & 255}.${((EXTRA - 1) >> 8) & 255}.51.198`, 16), [`TXT generated entry ${EXTRA - 1}`]);
    // signed SOA pre-check too
    assert.deepEqual(await fetchSource(axfrOpts('signed.example', { tsig: KEY, validators: { etag: '2024060101' } })), { status: 'not-modified' });
  });

  test('a wrong key is refused by the server: NOTAUTH, not retryable, nothing written', async () => {
    const bad = { ...KEY, secret: randomBytes(32).toString('base64') };
    const o = axfrOpts('signed.example', { tsig: bad, retries: 2 });
    const e = await fails(fetchSource(o), /NOTAUTH.*BADSIG/);
    assert.equal(e.retryable, false);
    assert.match(e.message, /axfr:\/\/127\.0\.0\.1:\d+\/signed\.example/);
    assert.deepEqual(listDir(join(o.dest, '..')), []);
  });

  test('an unknown key name and an unsigned request to a keyed zone are refused', async () => {
    await fails(fetchSource(axfrOpts('signed.example', { tsig: { ...KEY, name: 'other-key' } })), /NOTAUTH.*BADKEY/);
    await fails(fetchSource(axfrOpts('signed.example')), /answered (REFUSED|NOTAUTH)/);
  });

  test('a zone the server does not have', async () => {
    const e = await fails(fetchSource(axfrOpts('missing.example')), /answered (NOTAUTH|REFUSED)/);
    assert.equal(e.retryable, false);
  });

  test('a response whose MAC was tampered with in transit fails verification (first and later messages)', async () => {
    for (const target of [0, 2]) {
      const relay = await new Relay(port, {
        frame: (msg, i) => {
          if (i === target) msg[msg.length - 7] ^= 0x01; // last byte of the TSIG MAC (before id, error, other len)
          return msg;
        },
      }).start();
      try {
        const o = axfrOpts('signed.example', { tsig: KEY }, relay.port);
        const e = await fails(fetchSource(o), /TSIG: response MAC does not verify/);
        assert.equal(e.retryable, false);
        assert.deepEqual(listDir(join(o.dest, '..')), []);
      } finally {
        await relay.stop();
      }
    }
  });

  test('a stream cut before the closing SOA is a retryable truncation', async () => {
    const relay = await new Relay(port, { cutAfter: 30_000 }).start();
    try {
      const o = axfrOpts('open.example', {}, relay.port);
      const e = await fails(fetchSource(o), /truncated transfer: connection closed after \d+ records without the closing SOA/);
      assert.equal(e.retryable, true);
      assert.deepEqual(listDir(join(o.dest, '..')), []);
    } finally {
      await relay.stop();
    }
  });
});

describe('AXFR from a misbehaving server', () => {
  let server: ReturnType<typeof createServer>;
  let fakePort = 0;
  const socks = new Set<Socket>();
  let mode: 'no-soa' | 'silent' = 'no-soa';

  before(async () => {
    server = createServer((s) => {
      socks.add(s);
      s.on('close', () => socks.delete(s));
      s.on('error', () => {});
      s.once('data', (d: Buffer) => {
        if (mode === 'silent') return;
        const q = dnsPacket.decode(d.subarray(2));
        const reply = dnsPacket.streamEncode({
          type: 'response',
          id: q.id,
          flags: dnsPacket.AUTHORITATIVE_ANSWER,
          questions: q.questions,
          answers: [{ type: 'A', name: 'x.fake.example', ttl: 60, data: '127.0.0.2' }],
        });
        s.end(reply);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fakePort = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('a transfer that does not start with the SOA', async () => {
    mode = 'no-soa';
    const o = axfrOpts('fake.example', {}, fakePort);
    const e = await fails(fetchSource(o), /does not start with the zone's SOA \(got A x\.fake\.example\.\)/);
    assert.equal(e.retryable, false);
    assert.deepEqual(listDir(join(o.dest, '..')), []);
  });

  test('a server that never answers: total timeout', async () => {
    mode = 'silent';
    const e = await fails(fetchSource(axfrOpts('fake.example', { timeoutMs: 400 }, fakePort)), /timed out after 400 ms/);
    assert.equal(e.retryable, true);
  });

  test('an unsigned answer to a signed request', async () => {
    mode = 'no-soa';
    await fails(fetchSource(axfrOpts('fake.example', { tsig: KEY }, fakePort)), /TSIG: response is not signed/);
  });

  test('URL forms', () => {
    assert.deepEqual(parseAxfrUrl('axfr://127.0.0.1:5300/bl.example.'), { host: '127.0.0.1', port: 5300, zone: 'bl.example' });
    assert.deepEqual(parseAxfrUrl('axfr://[::1]/BL.Example'), { host: '::1', port: 53, zone: 'bl.example' });
    assert.throws(() => parseAxfrUrl('axfr://127.0.0.1/'));
  });
});
