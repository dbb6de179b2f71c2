// GET /api/v1/status against a real serve: what the dashboard shows, as JSON, for a script or a
// monitoring check. A file source that syncs, one whose file is missing (a 'bad' alert), a static
// provider feed; queries sent with dig show up in the rates.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, dig, freePort, makeTmpDir, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc,
} from '../integration/helpers.ts';

const skip = toolsOrSkip(['dig']);
const INC = join(ROOT, 'test', 'fixtures', 'incidents');
const BASE = 'dnsbl.test';
let serve: Proc | undefined;
after(() => stopAll(serve));

interface Status {
  zones: { name: string; answers: string; entries: number | null }[];
  queries: { seconds: number; total: { qps: number; rcodes: Record<string, number> } } | null;
  merge: { ready: boolean; soa_serial: number; last_merge_at: string | null };
  sources: { name: string; last_success: string | null; last_error: string | null; entries: number | null }[];
  providers: { provider: string; origin: string; ranges: number; stale: boolean }[];
  disk: { writable: boolean } | null;
  alerts: { level: string; what: string; todo: string }[];
}

test('GET /api/v1/status: zones, merge, sources, feeds, query rates and alerts; 401 without a token', { skip }, async () => {
  const dir = makeTmpDir('quorumbl-status-');
  const [dns, webPort] = [await freePort(), await freePort()];
  const web = `http://127.0.0.1:${webPort}`;
  const spamcop = join(dir, 'spamcop.ip4tset');
  copyFileSync(join(INC, 'spamcop-m365.ip4tset'), spamcop);
  const m365 = join(dir, 'm365.txt');
  copyFileSync(join(INC, 'm365-static.txt'), m365);
  const cfg = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { listen: "127.0.0.1:${webPort}" }`,
    'state_dir: state',
    `base: ${BASE}`,
    'sync: { enabled: false }',
    'sources:',
    `  - { name: spamcop, kind: ip, fetch: ${spamcop}, format: rbldnsd, rbldnsd_type: ip4tset, schedule: "0 0 1 1 *" }`,
    `  - { name: gone, kind: ip, fetch: ${join(dir, 'missing.txt')}, format: plain, schedule: "0 0 1 1 *" }`,
    'providers:',
    `  - { provider: microsoft365, type: static, file: ${m365} }`,
    '',
  ].join('\n'));
  await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  const tok = await runQuorumbl(['token', 'create', '--name', 'monitor', '--scope', 'reports', '--config', cfg]);
  assert.equal(tok.code, 0, tok.output);
  const token = tok.stdout.trim();

  serve = spawnQuorumbl(['serve', '--config', cfg]);
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
  for (let i = 0; i < 5; i++) await dig('127.0.0.1', dns, [`2.0.0.127.bl.${BASE}`, 'A']);

  const none = await fetch(`${web}/api/v1/status`);
  assert.equal(none.status, 401);

  // any token may read it (a monitoring check gets the least scope)
  const r = await fetch(`${web}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  const s = (await r.json()) as Status;
  const bl = s.zones.find((z) => z.name === `bl.${BASE}`);
  assert.ok(bl && bl.answers === 'data' && (bl.entries ?? 0) > 0, JSON.stringify(s.zones));
  assert.equal(s.merge.ready, true);
  assert.ok(s.merge.soa_serial > 0 && s.merge.last_merge_at !== null);
  const sc = s.sources.find((x) => x.name === 'spamcop')!;
  assert.ok(sc.last_success !== null && (sc.entries ?? 0) > 100, JSON.stringify(sc));
  const gone = s.sources.find((x) => x.name === 'gone')!;
  assert.equal(gone.last_success, null);
  assert.match(gone.last_error ?? '', /missing\.txt/);
  assert.ok(s.alerts.some((a) => a.level === 'bad' && a.what.startsWith('gone:')), JSON.stringify(s.alerts));
  const feed = s.providers.find((p) => p.provider === 'microsoft365')!;
  assert.ok(feed.ranges > 0 && feed.origin !== 'none', JSON.stringify(feed));
  assert.equal(s.disk?.writable, true);
  assert.ok(s.queries && s.queries.total.qps > 0 && (s.queries.total.rcodes.noerror ?? 0) > 0, JSON.stringify(s.queries));

  // the route is in the OpenAPI document with its response schema
  const doc = (await (await fetch(`${web}/api/openapi.json`)).json()) as { paths: Record<string, { get?: unknown }> };
  assert.ok(doc.paths['/status']?.get, Object.keys(doc.paths).join(', '));
});
