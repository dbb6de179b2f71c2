// The sync engine against real upstreams on loopback: every fault a real list has shown (an
// HTTP 500, a hang, a slow drip, a truncated body, an empty file, gzip garbage, 10x growth, a
// 90% shrink, a 0.0.0.0/0 line, 127.0.0.1 listed, the whole space listed, rsync killed
// mid-transfer) leaves the last good copy - what the mirror zone serves - byte for byte
// unchanged, and the state database records what went wrong.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { configSchema } from '../../core/config/schema.ts';
import { openDb } from '../../core/db.ts';
import { SyncEngine } from '../../sync/engine.ts';
import { SyncState, sourcePaths } from '../../sync/state.ts';
import { SyncLeases } from '../../sync/lease.ts';
import { Daemon, canConnect, freePort, tmpDir, toolsOrSkip, waitFor } from './fetch/helpers.ts';
import { Relay } from './fetch/proxy.ts';

type Fault = (res: ServerResponse) => void;

function list(n: number, extra: string[] = []): string {
  const lines = ['# synthetic trap list', '127.0.0.2'];
  for (let i = 0; i < n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return [...lines, ...extra].join('\n') + '\n';
}

let server: Server;
let fault: Fault | null = null;
let body = list(1000);
const open = new Set<ServerResponse>();

before(async () => {
  server = createServer((_req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (fault) return fault(res);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

after(() => {
  for (const r of open) r.destroy();
  server.close();
});

function setup(fetch: string, extra: Record<string, unknown> = {}) {
  const dir = tmpDir('qbl-engine-');
  const sources = configSchema.parse({
    sources: [{ name: 'trap', kind: 'ip', fetch, format: 'plain', retries: 0, timeout: 2, connect_timeout: 2, max_prefix: { v4: 16 }, guards: { test_point: true }, ...extra }],
  }).sources;
  const db = openDb(join(dir, 'state.sqlite'));
  const state = new SyncState(db);
  const committed: string[] = [];
  const engine = new SyncEngine(sources, {
    stateDir: dir,
    state,
    log: pino({ level: 'silent' }),
    userAgent: 'quorumbl-test',
    settings: { ttl: { def: 2100, min: 0, max: 2 ** 31 }, acceptHostBits: false, gunzip: true },
    onCommitted: (n) => committed.push(n),
  });
  const current = sourcePaths(dir, 'trap').current;
  return { dir, engine, state, current, committed, db };
}

describe('HTTP upstream faults', () => {
  const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/list.txt`;
  let ctx: ReturnType<typeof setup>;
  let good = '';

  before(async () => {
    fault = null;
    body = list(1000);
    ctx = setup(url());
    const r = await ctx.engine.sync('trap');
    assert.equal(r.outcome, 'ok', JSON.stringify(r));
    good = readFileSync(ctx.current, 'utf8');
    assert.deepEqual(ctx.committed, ['trap']);
  });

  const cases: { name: string; outcome: 'failed' | 'quarantined'; why: RegExp; fault?: Fault; body?: string }[] = [
    { name: 'HTTP 500', outcome: 'failed', why: /500/, fault: (res) => res.writeHead(500).end('oops') },
    { name: 'a hang', outcome: 'failed', why: /time/i, fault: () => {} },
    {
      name: 'a slow drip',
      outcome: 'failed',
      why: /time/i,
      fault: (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('1')), 300);
      },
    },
    {
      name: 'a truncated body',
      outcome: 'failed',
      why: /trunc|premature|closed|terminated|aborted|length/i,
      fault: (res) => {
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.slice(0, 100));
        setTimeout(() => res.destroy(), 50);
      },
    },
    { name: 'an empty file', outcome: 'quarantined', why: /empty|shr|test point/i, body: '' },
    { name: 'gzip garbage', outcome: 'failed', why: /gzip|decompress|incorrect header|unexpected end/i, fault: (res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(Buffer.from('this is not gzip at all')) },
    { name: '10x growth', outcome: 'quarantined', why: /grew/i, body: list(10_000) },
    { name: 'a 90% shrink', outcome: 'quarantined', why: /shr/i, body: list(100) },
    { name: 'a 0.0.0.0/0 line', outcome: 'quarantined', why: /wider|0\.0\.0\.0\/0/, body: list(1000, ['0.0.0.0/0']) },
    { name: '127.0.0.1 listed', outcome: 'quarantined', why: /127\.0\.0\.1|127\.0\.0\.0\/8/, body: list(1000, ['127.0.0.1']) },
    { name: 'the whole space listed', outcome: 'quarantined', why: /world|address|covers|grew/i, body: list(1000, ['1.0.0.0-126.255.255.255']) },
  ];

  for (const c of cases) {
    test(`${c.name}: ${c.outcome}, the served copy unchanged, the error recorded`, async () => {
      fault = c.fault ?? null;
      body = c.body ?? list(1000);
      const r = await ctx.engine.sync('trap');
      fault = null;
      assert.equal(r.outcome, c.outcome, JSON.stringify(r));
      const why = r.error ?? r.reasons?.join('; ') ?? '';
      assert.match(why, c.why);
      assert.equal(readFileSync(ctx.current, 'utf8'), good, 'the last good copy is untouched');
      const st = ctx.state.getSource('trap')!;
      assert.equal(st.lastOutcome, c.outcome);
      if (c.outcome === 'failed') assert.match(st.lastError ?? '', c.why);
      else assert.ok(st.quarantine && st.quarantine.reasons.length > 0 && existsSync(st.quarantine.path));
      assert.deepEqual(ctx.committed, ['trap'], 'nothing new was promoted');
      assert.deepEqual(readdirSync(join(ctx.dir, 'sources', 'trap', 'staging')), [], 'staging is left empty');
    });
  }

  test('recovery: a good update is promoted again', async () => {
    body = list(1010);
    const r = await ctx.engine.sync('trap');
    assert.equal(r.outcome, 'ok');
    assert.notEqual(readFileSync(ctx.current, 'utf8'), good);
    assert.equal(ctx.state.getSource('trap')!.quarantine, null);
  });
});

describe('rsync upstream killed mid-transfer', { skip: toolsOrSkip(['rsync'], 'rsync') }, () => {
  test('the transfer fails, the served copy stays, the error names rsync', async () => {
    const root = tmpDir('qbl-engine-rsyncd-');
    const mod = join(root, 'm');
    mkdirSync(mod, { mode: 0o755 });
    writeFileSync(join(mod, 'list.txt'), list(1000), { mode: 0o644 });
    const port = await freePort();
    const conf = join(root, 'rsyncd.conf');
    writeFileSync(conf, `use chroot = no\n[m]\n  path = ${mod}\n  read only = yes\n`);
    const d = new Daemon('rsync', ['--daemon', '--no-detach', '--address', '127.0.0.1', '--port', String(port), '--config', conf]);
    const relay = await new Relay(port, { bytesPerTick: 16 * 1024 }).start();
    try {
      await waitFor(() => canConnect('127.0.0.1', port), 'the rsync daemon');
      const ctx = setup(`rsync://127.0.0.1:${relay.port}/m/list.txt`, { timeout: 20 });
      assert.equal((await ctx.engine.sync('trap')).outcome, 'ok');
      const good = readFileSync(ctx.current, 'utf8');
      // A new, larger version: throttled through the relay, then the daemon dies mid-way.
      writeFileSync(join(mod, 'list.txt'), list(60_000), { mode: 0o644 });
      const syncing = ctx.engine.sync('trap');
      await new Promise((r) => setTimeout(r, 400));
      d.kill('SIGKILL');
      await relay.stop();
      const r = await syncing;
      assert.equal(r.outcome, 'failed', JSON.stringify(r));
      assert.match(r.error ?? '', /rsync/);
      assert.equal(readFileSync(ctx.current, 'utf8'), good);
      assert.match(ctx.state.getSource('trap')!.lastError ?? '', /rsync/);
    } finally {
      await d.stop();
    }
  });
});

describe('two syncs of the same source at once (two processes: serve and a shell)', () => {
  // Each engine has its own connection to the state database, as two processes would.
  function second(ctx: ReturnType<typeof setup>, fetch: string) {
    const sources = configSchema.parse({
      sources: [{ name: 'trap', kind: 'ip', fetch, format: 'plain', retries: 0, timeout: 5, connect_timeout: 2, max_prefix: { v4: 16 }, guards: { test_point: true } }],
    }).sources;
    const db = openDb(join(ctx.dir, 'state.sqlite'));
    const state = new SyncState(db);
    const engine = new SyncEngine(sources, {
      stateDir: ctx.dir, state, log: pino({ level: 'silent' }), userAgent: 'quorumbl-test',
      settings: { ttl: { def: 2100, min: 0, max: 2 ** 31 }, acceptHostBits: false, gunzip: true }, waitPollMs: 20,
    });
    return { engine, state, db };
  }

  test('the second is told who holds it or waits for it; the first is never interrupted; one fetch', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow.txt`;
    const ctx = setup(url, { timeout: 5 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let requests = 0;
    fault = (res) => {
      requests++;
      void gate.then(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(list(1000)));
    };
    try {
      const first = ctx.engine.sync('trap');
      await waitFor(() => requests === 1, 'the first sync to reach the upstream');
      // A second process starts while the first is mid-fetch: its start-up must not close the
      // live run (that made `serve` exit: endRun threw "already finished").
      const b = second(ctx, url);
      const busy = await b.engine.sync('trap', { waitMs: 0 });
      assert.equal(busy.outcome, 'busy');
      assert.equal(busy.holder?.pid, process.pid);
      assert.match(busy.error ?? '', /already running: pid \d+ on \S+ \(/);
      assert.equal(ctx.state.recentRuns('trap')[0]!.outcome, null, 'the first run is still open');
      const waits: string[] = [];
      const waiting = b.engine.sync('trap', { waitMs: 10_000, onWait: (h) => waits.push(h.holder) });
      await waitFor(() => waits.length === 1, 'the second sync to start waiting');
      release();
      const [r1, r2] = await Promise.all([first, waiting]);
      assert.equal(r1.outcome, 'ok', JSON.stringify(r1));
      assert.equal(r2.outcome, 'ok', JSON.stringify(r2));
      assert.ok(r2.holder, 'the waiter reports the sync the other process did');
      assert.equal(requests, 1, 'the waiter did not fetch again right after');
      const runs = ctx.state.recentRuns('trap');
      assert.deepEqual(runs.map((r) => r.outcome), ['ok'], 'one run, finished ok, none interrupted');
      assert.equal(ctx.engine.leases.holderOf('trap'), null, 'the lease is released');
      b.db.close();
    } finally {
      release();
      fault = null;
    }
  });

  test('a waiter whose bound passes gets busy; after a failed run the waiter syncs itself', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow2.txt`;
    const ctx = setup(url, { timeout: 5 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let requests = 0;
    fault = (res) => {
      requests++;
      if (requests === 1) void gate.then(() => res.writeHead(500).end('oops'));
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(list(1000));
    };
    try {
      const first = ctx.engine.sync('trap');
      await waitFor(() => requests === 1, 'the first sync to reach the upstream');
      const b = second(ctx, url);
      assert.equal((await b.engine.sync('trap', { waitMs: 100 })).outcome, 'busy');
      const waiting = b.engine.sync('trap', { waitMs: 10_000 });
      release();
      assert.equal((await first).outcome, 'failed');
      const r2 = await waiting;
      assert.equal(r2.outcome, 'ok', JSON.stringify(r2));
      assert.equal(r2.holder, undefined, 'it synced itself');
      assert.equal(requests, 2);
      b.db.close();
    } finally {
      release();
      fault = null;
    }
  });

  test('a sync whose lease was taken over while it stalled does not replace the data', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow3.txt`;
    const ctx = setup(url, { timeout: 5 });
    body = list(1000);
    assert.equal((await ctx.engine.sync('trap')).outcome, 'ok');
    const good = readFileSync(ctx.current, 'utf8');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let requests = 0;
    fault = (res) => {
      requests++;
      void gate.then(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(list(1010)));
    };
    try {
      const syncing = ctx.engine.sync('trap');
      await waitFor(() => requests === 1, 'the sync to reach the upstream');
      // Another host, a minute later by its clock: the lease looks expired and is taken over.
      const other = new SyncLeases(openDb(join(ctx.dir, 'state.sqlite')), { host: 'elsewhere', now: () => Date.now() + 60_000 });
      const took = other.tryAcquire('trap');
      assert.ok('lease' in took);
      release();
      const r = await syncing;
      assert.equal(r.outcome, 'failed');
      assert.match(r.error ?? '', /lease lost/);
      assert.equal(readFileSync(ctx.current, 'utf8'), good, 'the last good copy is untouched');
      assert.equal(other.holderOf('trap')?.host, 'elsewhere', "the new holder's lease is not released by the old one");
    } finally {
      release();
      fault = null;
    }
  });
});
