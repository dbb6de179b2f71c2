// Shared by the restart and kill -9 tests: generated plain-list sources with a known truth for
// a sample of keys (listed by 1..n sources, provider-exempt, unlisted, overridden), the serve
// config for them, and a UDP client that queries the sample in a loop and checks every reply
// against that truth (dns-packet on loopback: thousands of queries a second, unlike dig).

import dgram from 'node:dgram';
import { closeSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { LineWriter, sfc32 } from '../bench/datagen.ts';
import { FORBIDDEN_V4 } from '../../sync/guards.ts';

export const BASE = 'restart.test';
/** The static provider feed (exempt range) of the config. */
const PROVIDER = { start: (40 << 24) | (92 << 16), end: ((40 << 24) | (93 << 16) | 0xffff) >>> 0, cidr: '40.92.0.0/15' };
const inProvider = (ip: number) => ip >= PROVIDER.start && ip <= PROVIDER.end;

function publicIp(r: () => number): number {
  for (;;) {
    const ip = r();
    if (!FORBIDDEN_V4.some((f) => ip >= f.start && ip <= f.end)) return ip;
  }
}

function has(sorted: Uint32Array, ip: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === ip) return true;
    if (v < ip) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

export interface SampleKey {
  ip: number;
  /** Expected A records of bl and wl (empty = NXDOMAIN). */
  bl: number[];
  wl: number[];
  what: 'listed' | 'exempt' | 'unlisted' | 'deny' | 'allow';
}

export interface Data {
  files: string[];
  sample: SampleKey[];
  /** Keys for `quorumbl override add` (their truth is in sample). */
  deny: string;
  allow: string;
  /** Writes a changed copy of files[0] in place (new entries only, none of them a sample key). */
  changeSource0(seed: number): void;
}

export const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
const reversed = (x: number): string => `${x & 255}.${(x >>> 8) & 255}.${(x >>> 16) & 255}.${x >>> 24}`;
const A = (last: number, third = 0) => ((127 << 24) | (third << 8) | last) >>> 0;

/** n sources x entries plain lists (30% from a shared pool, so 1..n sources list a key). */
export function generate(dir: string, nSources: number, entries: number, seed = 1): Data {
  const r = sfc32(seed);
  const pool = new Uint32Array(Math.max(1, Math.floor(entries / 5)));
  for (let i = 0; i < pool.length; i++) pool[i] = publicIp(r);
  const lists: Uint32Array[] = [];
  const files: string[] = [];
  for (let s = 0; s < nSources; s++) {
    const a = new Uint32Array(entries);
    for (let i = 0; i < entries; i++) a[i] = r() % 10 < 3 ? pool[r() % pool.length]! : publicIp(r);
    // source 0 names 500 addresses in the provider's range (the seed incident)
    if (s === 0) for (let i = 0; i < 500; i++) a[i] = PROVIDER.start + (r() % (PROVIDER.end - PROVIDER.start));
    const file = join(dir, `src${s}.txt`);
    const fd = openSync(file, 'w', 0o644);
    const w = new LineWriter(fd);
    w.str(`# restart test source ${s}\n`);
    for (let i = 0; i < entries; i++) w.ip(a[i]!).nl();
    w.flush();
    closeSync(fd);
    files.push(file);
    lists.push(a.sort());
  }
  const count = (ip: number) => lists.reduce((n, l) => n + (has(l, ip) ? 1 : 0), 0);
  const sample: SampleKey[] = [];
  const seen = new Set<number>();
  const add = (ip: number, what: SampleKey['what']) => {
    if (seen.has(ip)) return;
    seen.add(ip);
    const n = count(ip);
    let bl = [...(n >= 1 ? [A(2)] : []), ...(n >= 2 ? [A(3)] : [])];
    let wl: number[] = [];
    if (inProvider(ip)) {
      bl = []; // provider_exempt: the public reasons go
      wl = [A(2, 10)];
    }
    if (what === 'deny') bl = [...bl, A(5)];
    if (what === 'allow') {
      bl = [];
      wl = [A(1, 10)];
    }
    sample.push({ ip, bl, wl, what });
  };
  for (let i = 0; i < 400; i++) {
    const l = lists[r() % nSources]!;
    const ip = l[r() % l.length]!;
    add(ip, inProvider(ip) ? 'exempt' : 'listed');
  }
  for (let i = 0; sample.filter((k) => k.what === 'exempt').length < 40 && i < 10_000; i++) {
    const ip = lists[0]![r() % lists[0]!.length]!;
    if (inProvider(ip)) add(ip, 'exempt');
  }
  const unlisted = () => {
    for (;;) {
      const ip = publicIp(r);
      if (!inProvider(ip) && count(ip) === 0 && !seen.has(ip)) return ip;
    }
  };
  for (let i = 0; i < 200; i++) add(unlisted(), 'unlisted');
  const deny = unlisted();
  add(deny, 'deny');
  let allow = 0;
  while (!allow) {
    const ip = lists[1 % nSources]![r() % entries]!;
    if (!inProvider(ip) && !seen.has(ip)) allow = ip;
  }
  add(allow, 'allow');
  const changeSource0 = (s: number) => {
    const rr = sfc32(s);
    const extra: number[] = [];
    while (extra.length < 5000) {
      const ip = publicIp(rr);
      if (!seen.has(ip) && !inProvider(ip)) extra.push(ip);
    }
    const tmp = `${files[0]}.tmp`;
    const fd = openSync(tmp, 'w', 0o644);
    const w = new LineWriter(fd);
    w.str(`# restart test source 0, changed (${s})\n`);
    for (const ip of lists[0]!) w.ip(ip).nl();
    for (const ip of extra) w.ip(ip).nl();
    w.flush();
    closeSync(fd);
    renameSync(tmp, files[0]!);
  };
  return { files, sample, deny: dotted(deny), allow: dotted(allow), changeSource0 };
}

export function writeServeConfig(dir: string, port: number, files: string[]): string {
  const config = {
    server: { listen: [`127.0.0.1:${port}`], tcp: { enabled: false } },
    state_dir: join(dir, 'state'),
    log: { level: 'info' },
    base: BASE,
    sync: { enabled: false },
    web: { enabled: false },
    reload: { check_interval: 1 },
    policy: { threshold: 1, consensus: 2, provider_exempt: true },
    sources: files.map((f, i) => ({
      name: `src${i}`,
      kind: 'ip',
      fetch: f,
      format: 'plain',
      max_size: '1G',
      weight: 1,
      guards: { max_error_ratio: 1, max_shrink: 1, max_grow: 1000, world_share: 1000 },
    })),
    providers: [{ provider: 'test-mail', type: 'static', cidrs: [PROVIDER.cidr] }],
  };
  const file = join(dir, 'quorumbl.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  return file;
}

export interface Tally {
  sent: number;
  replies: number;
  correct: number;
  servfail: number;
  /** Wrong answers (an A set or rcode other than the truth), with what was seen. */
  wrong: string[];
  /** Time (Date.now()) of the first reply received after `mark()`, and how many came after it. */
  firstAfterMark: number | null;
  repliesAfterMark: number;
  /** Time (Date.now()) of the first correct reply after `mark()` (the restart bench). */
  firstCorrectAfterMark: number | null;
}

/**
 * Queries bl and wl for every sample key in a loop (about `qps` a second) until stop().
 * allowServfail: SERVFAIL is counted apart instead of as wrong (no evidence yet).
 */
export function queryLoop(port: number, sample: SampleKey[], opts: { qps?: number; allowServfail?: boolean; blOnly?: boolean } = {}): {
  tally: Tally;
  mark(): void;
  stop(): Promise<Tally>;
} {
  const sock = dgram.createSocket('udp4');
  const tally: Tally = { sent: 0, replies: 0, correct: 0, servfail: 0, wrong: [], firstAfterMark: null, repliesAfterMark: 0, firstCorrectAfterMark: null };
  const pending = new Map<number, { key: SampleKey; zone: 'bl' | 'wl' }>();
  let marked = false;
  sock.on('message', (msg) => {
    let p: dnsPacket.Packet;
    try {
      p = dnsPacket.decode(msg);
    } catch (e) {
      tally.wrong.push(`undecodable reply: ${(e as Error).message}`);
      return;
    }
    const q = pending.get(p.id!);
    if (!q) return; // a late reply to an id reused since
    pending.delete(p.id!);
    tally.replies++;
    if (marked) {
      tally.repliesAfterMark++;
      tally.firstAfterMark ??= Date.now();
    }
    const want = q.zone === 'bl' ? q.key.bl : q.key.wl;
    const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
    if (rcode === 'SERVFAIL' && opts.allowServfail) {
      tally.servfail++;
      return;
    }
    const got = (p.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data: unknown }).data)).sort();
    const expect = want.map(dotted).sort();
    const ok = want.length === 0 ? rcode === 'NXDOMAIN' : rcode === 'NOERROR' && got.join() === expect.join();
    if (ok) {
      tally.correct++;
      if (marked) tally.firstCorrectAfterMark ??= Date.now();
    }
    else if (tally.wrong.length < 50) tally.wrong.push(`${q.zone} ${dotted(q.key.ip)} (${q.key.what}): want ${want.length ? expect.join(',') : 'NXDOMAIN'}, got ${rcode} ${got.join(',')}`);
    else tally.wrong.push('...');
  });
  let i = 0;
  let id = 0;
  const perTick = Math.max(1, Math.round((opts.qps ?? 2000) / 200));
  const timer = setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      const key = sample[i % sample.length]!;
      const zone = opts.blOnly || Math.floor(i / sample.length) % 2 === 0 ? 'bl' : 'wl';
      i++;
      id = (id + 1) & 0xffff;
      pending.set(id, { key, zone });
      const buf = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: 'A', name: `${reversed(key.ip)}.${zone}.${BASE}` }] });
      sock.send(buf, port, '127.0.0.1');
      tally.sent++;
    }
  }, 5);
  return {
    tally,
    /** Counts replies (and the first correct one) from now on, afresh. */
    mark() {
      marked = true;
      tally.firstAfterMark = null;
      tally.firstCorrectAfterMark = null;
      tally.repliesAfterMark = 0;
    },
    async stop() {
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 300)); // the last replies
      sock.close();
      return tally;
    },
  };
}
