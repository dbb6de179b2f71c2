// Config reload of a real `quorumbl serve` (SIGHUP and `quorumbl reload`): a policy threshold,
// a source and a zone added, web.listen moved, broken YAML and schema, a web address that cannot
// be bound, and a reload whose merge fails. Throughout, a prober asks over UDP for answers that
// no reload changes: it must never see SERVFAIL, a lost query or a wrong answer.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  toolsOrSkip, makeTmpDir, freePort, spawnQuorumbl, runQuorumbl, stopAll, waitReady, dig, copyFixture, writeConfig,
  ip4Labels, poll, waitForLog, buildQuery, LEVEL, type Proc, type DigReply,
} from '../integration/helpers.ts';

const skip = toolsOrSkip(['dig']);
const BASE = 'rl.test';
const Z1 = 'one.rl.test';
const Z2 = 'two.rl.test';

const aOf = (r: DigReply) => r.answer.filter((x) => x.type === 'A').map((x) => x.data);

/** Fires UDP queries whose answers no reload in this test changes, ~`qps` a second, and counts
 *  what a mail server would notice: no reply within 5 s, SERVFAIL, or another answer. (The rate
 *  is kept modest: the test process itself must keep up on a shared CI machine; the README's
 *  figure at 1,000 qps is dnsperf's.) */
class Prober {
  sent = 0;
  ok = 0;
  bad: string[] = [];
  private readonly sock = createSocket('udp4');
  private readonly pending = new Map<number, { at: number; want: [number, number]; name: string }>();
  private timer?: NodeJS.Timeout;
  private id = 0;
  constructor(private readonly port: number, private readonly probes: { name: string; rcode: number; answers: number }[], private readonly qps = 300) {
    this.sock.on('message', (m) => {
      const id = m.readUInt16BE(0);
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      const rcode = m[3]! & 0xf;
      const an = m.readUInt16BE(6);
      if (rcode === p.want[0] && an === p.want[1]) this.ok++;
      else this.bad.push(`${p.name}: rcode ${rcode} answers ${an}, want rcode ${p.want[0]} answers ${p.want[1]}`);
    });
  }
  start(): void {
    const perTick = Math.max(1, Math.round(this.qps / 100));
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const [id, p] of this.pending) if (now - p.at > 5000) {
        this.pending.delete(id);
        this.bad.push(`${p.name}: no reply within 5 s`);
      }
      for (let i = 0; i < perTick; i++) {
        const pr = this.probes[this.sent % this.probes.length]!;
        const id = (this.id = (this.id + 1) & 0xffff);
        this.pending.set(id, { at: now, want: [pr.rcode, pr.answers], name: pr.name });
        this.sock.send(buildQuery(id, pr.name, 1), this.port, '127.0.0.1');
        this.sent++;
      }
    }, 10);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await poll(async () => (this.pending.size === 0 ? true : undefined), 'the last probe replies', { timeoutMs: 10_000 }).catch(() => {});
    for (const p of this.pending.values()) this.bad.push(`${p.name}: no reply`);
    this.sock.close();
  }
}

describe('config reload of a running serve', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let cfgFile: string;
  let dnsPort: number;
  let web1: number;
  let web2: number;
  let failFile: string;
  let serve: Proc | undefined;
  let prober: Prober | undefined;
  let blocker: Server | undefined;
  const src = (name: string, file: string, weight = 1) => `  - { name: ${name}, kind: ip, fetch: ${file}, format: plain, schedule: "0 0 1 1 *", min_interval: 1w, weight: ${weight} }`;

  /** The config file: every test writes the variant it needs. */
  function config(o: { threshold?: number; sources?: string[]; zones?: string[]; web?: number; extra?: string } = {}): string {
    return writeConfig(dir, [
      `base: ${BASE}`,
      'state_dir: ./state',
      'log: { level: info }',
      `server: { listen: ["127.0.0.1:${dnsPort}"] }`,
      'reload: { check_interval: 0 }',
      `web: { listen: "127.0.0.1:${o.web ?? web1}" }`,
      `policy: { threshold: ${o.threshold ?? 1}, consensus: 9 }`,
      'providers: []',
      `sources:${(o.sources ?? ['a']).length ? '' : ' []'}`,
      ...(o.sources ?? ['a']).map((n) => src(n, join(dir, 'up', `${n}.txt`))),
      `zones:${(o.zones ?? [Z1]).length ? '' : ' []'}`,
      ...(o.zones ?? [Z1]).map((z) => (z === Z1 ? `  - { name: ${Z1}, datasets: [{ type: ip4set, files: [data/ip4set.txt] }] }` : `  - { name: ${z}, datasets: [{ type: dnset, files: [data/dnset.txt] }] }`)),
      o.extra ?? '',
      '',
    ].join('\n'));
  }

  const q = (name: string) => dig('127.0.0.1', dnsPort, [name, 'A']);
  async function waitAnswer(name: string, want: string[], what: string): Promise<void> {
    let last: DigReply | undefined;
    await poll(async () => {
      last = await q(name);
      return JSON.stringify(aOf(last)) === JSON.stringify(want) && (want.length || last.status === 'NXDOMAIN') ? true : undefined;
    }, what, { timeoutMs: 30_000, describe: () => `last: ${last?.status} ${JSON.stringify(last && aOf(last))}\n${serve?.tail()}` });
  }
  const reload = (...args: string[]) => runQuorumbl(['reload', '--config', cfgFile, ...args], { timeoutMs: 90_000 });
  const readyz = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).json() as Promise<{ config_reload?: { ok: boolean; errors: string[]; merge: string | null } }>;

  before(async () => {
    dir = makeTmpDir('quorumbl-reload-');
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'up'));
    copyFixture('ip4set.txt', join(dir, 'data'));
    copyFixture('dnset.txt', join(dir, 'data'));
    writeFileSync(join(dir, 'up', 'a.txt'), '192.0.2.1\n192.0.2.2\n');
    writeFileSync(join(dir, 'up', 'b.txt'), '192.0.2.2\n192.0.2.3\n');
    failFile = join(dir, 'merge-fails');
    [dnsPort, web1, web2] = [await freePort(), await freePort(), await freePort()];
    cfgFile = config();
    const s = await runQuorumbl(['sync', '--config', cfgFile]);
    assert.equal(s.code, 0, s.output);
    serve = spawnQuorumbl(['serve', '--config', cfgFile], { env: { QBL_TEST_MERGE_FAIL_FILE: failFile } });
    await waitReady(serve, '127.0.0.1', dnsPort, Z1);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 30_000);
    await waitAnswer(`${ip4Labels('192.0.2.1')}.bl.${BASE}`, ['127.0.0.2'], 'bl lists a key of source a (threshold 1)');
    // answers every step below keeps: Z1 listed and unlisted, and the mirror of source a
    prober = new Prober(dnsPort, [
      { name: `${ip4Labels('192.0.2.5')}.${Z1}`, rcode: 0, answers: 1 },
      { name: `${ip4Labels('127.0.0.1')}.${Z1}`, rcode: 3, answers: 0 },
      { name: `${ip4Labels('192.0.2.1')}.a.mirror.${BASE}`, rcode: 0, answers: 1 },
      { name: `${ip4Labels('198.51.100.7')}.a.mirror.${BASE}`, rcode: 3, answers: 0 },
    ]);
    prober.start();
  });

  after(async () => {
    await prober?.stop();
    blocker?.close();
    await stopAll(serve);
    rmSync(dir, { recursive: true, force: true });
  });

  test('SIGHUP: a higher policy threshold applies without a merge or a restart', async () => {
    config({ threshold: 2 });
    const from = serve!.output.length;
    serve!.signal('SIGHUP');
    await waitForLog(serve!, from, (r) => r.msg === 'config reload applied', 'reload applied');
    await waitAnswer(`${ip4Labels('192.0.2.1')}.bl.${BASE}`, [], 'one source of weight 1 is below threshold 2');
    assert.equal(serve!.exitStatus, null);
  });

  test('quorumbl reload --wait: a source and a zone added are served; the new source syncs and merges', async () => {
    config({ threshold: 2, sources: ['a', 'b'], zones: [Z1, Z2] });
    const r = await reload('--wait');
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /config reloaded/);
    assert.deepEqual(aOf(await q(`test.${Z2}`)), ['127.0.0.2'], 'the zone added answers at once');
    // the new source's mirror answers once synced; a sync from a shell reaches the serve
    const s = await runQuorumbl(['sync', '--config', cfgFile, 'b']);
    assert.equal(s.code, 0, s.output);
    await waitAnswer(`${ip4Labels('192.0.2.3')}.b.mirror.${BASE}`, ['127.0.0.2'], 'mirror of the new source');
    await waitAnswer(`${ip4Labels('192.0.2.2')}.bl.${BASE}`, ['127.0.0.2'], 'a + b reach threshold 2');
  });

  test('web.listen moved: the new address answers, the old one is closed', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${web1}/healthz`)).status, 200);
    config({ threshold: 2, sources: ['a', 'b'], zones: [Z1, Z2], web: web2 });
    const r = await reload('--wait');
    assert.equal(r.code, 0, r.output);
    const z = await readyz(web2);
    assert.equal(z.config_reload?.ok, true);
    await assert.rejects(fetch(`http://127.0.0.1:${web1}/healthz`), 'the old web address no longer answers');
  });

  test('broken YAML, a schema error and an address that cannot be bound: refused with key and line, the old config keeps serving', async () => {
    const good = config({ threshold: 2, sources: ['a', 'b'], zones: [Z1, Z2], web: web2 });
    void good;
    // 1. YAML syntax: an unclosed flow mapping on line 7
    const lines = [`base: ${BASE}`, 'state_dir: ./state', 'log: { level: info }', `server: { listen: ["127.0.0.1:${dnsPort}"] }`, 'reload: { check_interval: 0 }', `web: { listen: "127.0.0.1:${web2}" }`, 'policy: { threshold: 1, consensus: 9', 'zones: []', ''];
    writeConfig(dir, lines.join('\n'));
    let from = serve!.output.length;
    let r = await reload('--wait');
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /quorumbl\.yaml:\d+: YAML syntax/);
    await waitForLog(serve!, from, (x, line) => x.level === LEVEL.error && /quorumbl\.yaml:\d+: YAML syntax/.test(line), 'the YAML error in the log with its line');
    // 2. schema: a threshold that is not a number, on line 7, and a zone removed
    lines[6] = 'policy: { threshold: lots, consensus: 9 }';
    writeConfig(dir, lines.join('\n'));
    from = serve!.output.length;
    r = await reload('--wait');
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /quorumbl\.yaml:7: policy\.threshold: /);
    await waitForLog(serve!, from, (x, line) => x.level === LEVEL.error && line.includes('quorumbl.yaml:7: policy.threshold'), 'the schema error in the log with key and line');
    // 3. a web address another process holds
    const busy = await freePort();
    blocker = createServer();
    await new Promise<void>((res) => blocker!.listen(busy, '127.0.0.1', res));
    config({ threshold: 1, sources: ['a'], zones: [Z1], web: busy });
    r = await reload('--wait');
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /web\.listen: cannot listen on 127\.0\.0\.1:\d+/);
    // nothing of the refused configs applies: zone two still served, threshold still 2, web on web2
    assert.deepEqual(aOf(await q(`test.${Z2}`)), ['127.0.0.2']);
    assert.deepEqual(aOf(await q(`${ip4Labels('192.0.2.1')}.bl.${BASE}`)), []);
    const z = await readyz(web2);
    assert.equal(z.config_reload?.ok, false);
    assert.match(z.config_reload!.errors.join('\n'), /web\.listen/);
    const st = await fetch(`http://127.0.0.1:${web2}/readyz`);
    assert.equal(st.status, 200, 'a refused reload leaves DNS ready');
  });

  test('a reload whose merge fails keeps the evidence in force; the next one merges', async () => {
    blocker?.close();
    writeFileSync(failFile, '');
    config({ threshold: 2, sources: ['a'], zones: [Z1, Z2], web: web2 });
    let r = await reload('--wait');
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /merge that followed failed/);
    assert.equal((await readyz(web2)).config_reload?.merge, 'failed');
    // source b is gone from the config, but the evidence in force still has it: 192.0.2.2 listed
    assert.deepEqual(aOf(await q(`${ip4Labels('192.0.2.2')}.bl.${BASE}`)), ['127.0.0.2']);
    rmSync(failFile);
    r = await reload('--wait');
    assert.equal(r.code, 0, r.output);
    await waitAnswer(`${ip4Labels('192.0.2.2')}.bl.${BASE}`, [], 'merged without source b');
  });

  test('ten reloads in a row under a steady query load: none lost, none wrong, no SERVFAIL', async () => {
    for (let i = 0; i < 10; i++) {
      config({ threshold: i % 2 ? 1 : 2, sources: ['a'], zones: i % 2 ? [Z1] : [Z1, Z2], web: web2 });
      const r = await reload('--wait');
      assert.equal(r.code, 0, r.output);
    }
    await prober!.stop();
    const p = prober!;
    prober = undefined;
    assert.deepEqual(p.bad.slice(0, 10), [], `${p.bad.length} of ${p.sent} probes failed`);
    assert.ok(p.ok > 1000, `probes answered: ${p.ok}`);
    process.stderr.write(`# prober: ${p.sent} queries, ${p.ok} right, ${p.bad.length} lost or wrong\n`);
  });

  test('quorumbl reload without a running serve says so and exits 1', async () => {
    await stopAll(serve);
    serve = undefined;
    assert.equal(existsSync(join(dir, 'state', 'serve.pid')), false, 'serve removes its pid file at exit');
    const r = await reload();
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /no quorumbl serve is running/);
  });
});
