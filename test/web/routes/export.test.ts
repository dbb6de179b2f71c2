// GET /api/v1/export/{zone}?format=... through a real HTTP server: a token is required; the
// body is the zone in the asked format, streamed; ETag / Last-Modified / Cache-Control; a
// matching If-None-Match or If-Modified-Since is a 304 without body; a new serial (what an
// override makes) gives a new ETag and the new content; unknown zones are a 404 naming them.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../../web/app.ts';
import { startWeb, type WebServer } from '../../../web/server.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { LoadedZone } from '../../../core/zones/store.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { tmpDb } from '../../sync/local/helpers.ts';

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const R = (name: string, data: string): ZoneRecord => ({ name, type: 1, ttl: 300, data });
const SOA = { ttl: 300, mname: 'ns1.example', rname: 'hostmaster.example', serial: 0, refresh: 600, retry: 300, expire: 86400, minimum: 60 };

function zone(name: string, records: ZoneRecord[], serial: number): LoadedZone {
  return { name, datasets: [new RecordsDataset(records, { soa: SOA, ns: { ttl: 300, names: ['ns1.example'] }, liveSerial: { serial } })], newestMtime: 0, failed: false };
}

async function setup() {
  const { db } = tmpDb();
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, onChange: () => {} });
  const token = store.tokens.create('fleet', 'reports', 'test').token;
  let now = Date.UTC(2026, 11, 6, 12, 0, 0);
  const state = {
    zones: [
      zone('bl.example', [R('2.0.0.127', '127.0.0.2'), R('*.2.0.10', '127.0.0.3')], 100),
      { name: 'broken.example', datasets: [], newestMtime: 0, failed: true },
    ] as LoadedZone[],
    tick: (ms: number) => (now += ms),
  };
  const app = createApp({ store, export: { zones: () => state.zones, base: 'example', now: () => now } });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const get = async (path: string, headers: Record<string, string> = {}, tok: string | null = token) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/export/${path}`, { headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers } });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  return { get, state };
}

test('a token is required', async () => {
  const { get } = await setup();
  const r = await get('bl?format=zonefile', {}, null);
  assert.equal(r.status, 401);
  assert.doesNotMatch(r.text, /127\.0\.0\.2/);
  assert.equal((await get('bl?format=zonefile', {}, 'not-a-token')).status, 401);
});

test('the zone as a zone file or rbldnsd data, with ETag, Last-Modified, no-cache', async () => {
  const { get } = await setup();
  const z = await get('bl?format=zonefile');
  assert.equal(z.status, 200);
  assert.match(z.headers.get('content-type') ?? '', /^text\/dns/);
  assert.equal(z.headers.get('etag'), '"bl.example/100/zonefile"');
  assert.equal(z.headers.get('cache-control'), 'no-cache');
  assert.equal(z.headers.get('last-modified'), 'Sun, 06 Dec 2026 12:00:00 GMT');
  assert.match(z.headers.get('content-disposition') ?? '', /filename="bl\.example\.zone"/);
  assert.match(z.text, /^@\t300\tIN\tSOA\tns1\.example\. hostmaster\.example\. 100 /m);
  assert.match(z.text, /^\*\.2\.0\.10\t300\tIN\tA\t127\.0\.0\.3$/m);
  const r = await get('bl.example.?format=rbldnsd');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('etag'), '"bl.example/100/rbldnsd"');
  assert.match(r.text, /^\$SOA 300 ns1\.example\. hostmaster\.example\. 100 /m);
  assert.match(r.text, /^10\.0\.2\.0\/24 :127\.0\.0\.3:$/m);
});

test('304 while the serial is the same; a new serial (an override) is a new ETag and new content', async () => {
  const { get, state } = await setup();
  const first = await get('bl?format=rbldnsd');
  const etag = first.headers.get('etag')!;
  const lm = first.headers.get('last-modified')!;
  const again = await get('bl?format=rbldnsd', { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
  assert.equal(again.headers.get('etag'), etag);
  assert.equal((await get('bl?format=rbldnsd', { 'if-none-match': `"x", W/${etag}` })).status, 304);
  assert.equal((await get('bl?format=rbldnsd', { 'if-modified-since': lm })).status, 304);
  // the other format is another ETag
  assert.equal((await get('bl?format=zonefile', { 'if-none-match': etag })).status, 200);

  // an override: the zone answers with a new serial and a new record
  state.tick(5000);
  state.zones = [zone('bl.example', [R('2.0.0.127', '127.0.0.2'), R('*.2.0.10', '127.0.0.3'), R('7.2.0.192', '127.0.0.5')], 101)];
  const changed = await get('bl?format=rbldnsd', { 'if-none-match': etag });
  assert.equal(changed.status, 200);
  assert.equal(changed.headers.get('etag'), '"bl.example/101/rbldnsd"');
  assert.match(changed.text, /^192\.0\.2\.7 :127\.0\.0\.5:$/m);
  assert.equal(changed.headers.get('last-modified'), 'Sun, 06 Dec 2026 12:00:05 GMT');
  assert.equal((await get('bl?format=rbldnsd', { 'if-modified-since': lm })).status, 200);
});

test('unknown zone 404, bad format 400, a zone without data 409: each named', async () => {
  const { get } = await setup();
  const u = await get('nope?format=zonefile');
  assert.equal(u.status, 404);
  assert.match(u.text, /no zone \\"nope\\"/);
  const f = await get('bl?format=bind');
  assert.equal(f.status, 400);
  assert.match(f.text, /format/);
  assert.equal((await get('bl')).status, 400);
  const b = await get('broken.example?format=zonefile');
  assert.equal(b.status, 409);
  assert.match(b.text, /broken\.example has no data/);
});

test('a download cut off halfway: the zone is no longer read, the next download is whole', async () => {
  const { db } = tmpDb();
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, onChange: () => {} });
  const token = store.tokens.create('fleet', 'reports', 'test').token;
  const state = { reading: 0, closed: 0, served: 0 };
  const big = {
    type: 'test', ttl: 300, size: 200_000, meta: { soa: SOA },
    query: () => false, dump: () => {}, snapshot: () => ({ type: 'test', meta: null, arrays: [] }),
    *records() {
      state.reading++;
      try {
        for (let i = 0; i < 200_000; i++) {
          state.served = i;
          yield R(`${i & 255}.${(i >> 8) & 255}.${i >> 16}.10`, '127.0.0.2');
        }
      } finally {
        state.closed++;
      }
    },
  };
  const zones: LoadedZone[] = [{ name: 'bl.example', datasets: [big], newestMtime: 0, failed: false }];
  const app = createApp({ store, export: { zones: () => zones, base: 'example' } });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const url = `http://127.0.0.1:${server.port}/api/v1/export/bl?format=zonefile`;
  const ac = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  await reader.read().catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (state.closed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(state.closed, 1, 'the records iteration was ended when the client went away');
  assert.ok(state.served < 199_999, `stopped early (at record ${state.served})`);
  const whole = await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).text();
  assert.equal(whole.split('\n').filter((l) => l.includes('\tA\t')).length, 200_000);
  assert.equal(state.reading, 2);
});
