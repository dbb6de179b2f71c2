// The Microsoft 365 web service against a loopback HTTP server: the version is polled, endpoints
// are downloaded only when it changes, the client request GUID is made once and reused, a 429
// keeps the previous ranges, a shrunken answer is refused by the guard.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contains4 } from '../../../core/ranges.ts';
import { loadLastGood, providerSchema, refreshProvider } from '../../../sync/providers/index.ts';
import { m365ClientId } from '../../../sync/providers/m365.ts';
import { tmpDir } from '../fetch/helpers.ts';
import { PROVIDER_FIXTURES } from './dns-server.ts';

const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

class M365Server {
  latest = '2024053000';
  endpointsFile = 'm365-endpoints-2024053000.json';
  endpointsStatus = 200;
  hits: URL[] = [];
  private server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    this.hits.push(url);
    if (url.pathname === '/version/Worldwide') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ instance: 'Worldwide', latest: this.latest }));
    } else if (url.pathname === '/endpoints/Worldwide') {
      if (this.endpointsStatus !== 200) {
        res.writeHead(this.endpointsStatus, { 'retry-after': '3600' });
        res.end('Too many requests');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(readFileSync(join(PROVIDER_FIXTURES, this.endpointsFile)));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  port = 0;
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  count(path: string): number {
    return this.hits.filter((h) => h.pathname === path).length;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('Microsoft 365 web service feed', () => {
  let srv: M365Server;
  const stateDir = tmpDir('qbl-m365-');
  let cfg: ReturnType<typeof providerSchema.parse>;
  before(async () => {
    srv = await new M365Server().start();
    cfg = providerSchema.parse({ provider: 'microsoft365', type: 'm365', base_url: `http://127.0.0.1:${srv.port}` });
  });
  after(() => srv.stop());

  test('first run: version, then endpoints; only Exchange sets with TCP 25 (id 10)', async () => {
    const out = await refreshProvider(cfg, { stateDir, now: () => 1717200000000 });
    assert.equal(out.status, 'updated', out.reasons.join());
    const r = out.current!;
    assert.equal(r.feed, 'm365-worldwide');
    assert.equal(r.version, '2024053000');
    assert.deepEqual(r.ranges.map((x) => x.cidr), ['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17', '2a01:111:f400::/48', '2a01:111:f403::/48']);
    assert.ok(r.ranges.every((x) => x.detail === 'M365 endpoint set 10 (TCP 25), version 2024053000' && x.fetchedAt === 1717200000000));
    // ids 1/2 (client access, submission), 9 (443) and the Common set are not mail exemptions
    assert.ok(!contains4(r.v4, ip('40.96.0.1')));
    assert.ok(!contains4(r.v4, ip('52.238.78.88')));
    assert.ok(!contains4(r.v4, ip('20.20.32.1')));
    assert.ok(contains4(r.v4, ip('40.107.20.108')) && contains4(r.v4, ip('40.93.198.108')) && contains4(r.v4, ip('52.103.34.90')));
    assert.equal(srv.count('/endpoints/Worldwide'), 1);
    const ep = srv.hits.find((h) => h.pathname === '/endpoints/Worldwide')!;
    assert.equal(ep.searchParams.get('ServiceAreas'), 'Exchange');
    assert.equal(loadLastGood(stateDir, 'microsoft365', 'm365-worldwide')!.version, '2024053000');
  });

  test('one client request GUID per installation, stored and sent on every request', async () => {
    const id = m365ClientId(stateDir);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(readFileSync(join(stateDir, 'providers', 'm365-client-id'), 'utf8').trim(), id);
    assert.ok(srv.hits.length >= 2 && srv.hits.every((h) => h.searchParams.get('ClientRequestId') === id));
    assert.notEqual(m365ClientId(tmpDir('qbl-m365-other-')), id);
  });

  test('version unchanged: no endpoints download, the stored ranges stay', async () => {
    const before = srv.count('/endpoints/Worldwide');
    const out = await refreshProvider(cfg, { stateDir, now: () => 1717300000000 });
    assert.equal(out.status, 'unchanged');
    assert.equal(srv.count('/endpoints/Worldwide'), before);
    assert.equal(out.current!.fetchedAt, 1717200000000);
    assert.equal(out.current!.ranges.length, 6);
  });

  test('version changed but endpoints answer 429: error, previous ranges kept, retried next time', async () => {
    srv.latest = '2024063000';
    srv.endpointsFile = 'm365-endpoints-2024063000.json';
    srv.endpointsStatus = 429;
    const out = await refreshProvider(cfg, { stateDir });
    assert.equal(out.status, 'failed');
    assert.match(out.reasons[0]!, /HTTP 429/);
    assert.doesNotMatch(out.reasons[0]!, /ClientRequestId=/); // the installation GUID stays out of logs
    assert.equal(out.current!.version, '2024053000');
    assert.equal(loadLastGood(stateDir, 'microsoft365', 'm365-worldwide')!.version, '2024053000');

    srv.endpointsStatus = 200;
    const again = await refreshProvider(cfg, { stateDir, now: () => 1719700000000 });
    assert.equal(again.status, 'updated');
    assert.equal(again.current!.version, '2024063000');
    assert.equal(again.current!.ranges.length, 7);
    assert.ok(contains4(again.current!.v4, ip('52.238.78.88')));
    assert.equal(loadLastGood(stateDir, 'microsoft365', 'm365-worldwide')!.version, '2024063000');
  });

  test('a new version that drops most ranges is refused by the guard; the last good copy stays', async () => {
    srv.latest = '2024073000';
    srv.endpointsFile = 'm365-endpoints-shrunk.json';
    const out = await refreshProvider(cfg, { stateDir });
    assert.equal(out.status, 'rejected');
    assert.match(out.reasons.join('\n'), /ranges shrank from 7 to 1/);
    assert.equal(out.current!.version, '2024063000');
    assert.equal(out.refused!.ranges.length, 1);
    assert.equal(loadLastGood(stateDir, 'microsoft365', 'm365-worldwide')!.ranges.length, 7);
  });

  test('an unreachable service is an error, not an empty feed', async () => {
    const dead = providerSchema.parse({ provider: 'microsoft365', type: 'm365', base_url: 'http://127.0.0.1:1' });
    const out = await refreshProvider(dead, { stateDir });
    assert.equal(out.status, 'failed');
    assert.equal(out.current!.ranges.length, 7);
  });
});
