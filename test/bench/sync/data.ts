// Data for the sync benchmark: a big seeded plain list (mostly single IPv4 /32s, some /24 and
// /20 CIDRs; nothing in special-purpose space, so the guards pass), a small seed list for the
// first sync, and a dnsperf query file for the mirror zone. Cached by (N, seed, version).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineWriter, sfc32 as prng } from '../datagen.ts';
import { FORBIDDEN_V4 } from '../../../sync/guards.ts';

const DATA_VERSION = 1;
const QUERY_COUNT = 100_000;
/** Per 100000 lines: 150 /24s and 2 /20s. At 10M lines that is ~10M + 3.8M + 0.8M addresses,
 *  under the guards' absolute "lists the world" ceiling of 2^24 addresses. */
const PER_100K_24 = 150;
const PER_100K_20 = 2;

export interface SyncData {
  dir: string;
  bigFile: string;
  seedFile: string;
  queryFile: string;
  lines: number;
  seedLines: number;
  cidrs: { s24: number; s20: number };
  bytes: number;
  genSeconds: number; // 0 when cached
  /** A name listed only in the big file (answers once the big copy is served). */
  bigProbe: string;
  /** A name listed in the seed file (answers once the first sync landed). */
  seedProbe: string;
}

/** False for addresses in the ranges the guards reject (private, loopback, multicast, ...). */
export function allowed(ip: number): boolean {
  for (const f of FORBIDDEN_V4) if (ip >= f.start && ip <= f.end) return false;
  return true;
}

export function reversedName(ip: number, zone: string): string {
  return `${ip & 255}.${(ip >>> 8) & 255}.${(ip >>> 16) & 255}.${ip >>> 24}.${zone}`;
}

function randomAllowed(rnd: () => number): number {
  for (;;) {
    const ip = rnd();
    if (allowed(ip)) return ip;
  }
}

function writeList(path: string, header: string, fill: (w: LineWriter) => void): number {
  const tmp = path + '.tmp';
  const fd = openSync(tmp, 'w', 0o644);
  const w = new LineWriter(fd, 4 << 20);
  w.str(header);
  fill(w);
  w.flush();
  closeSync(fd);
  renameSync(tmp, path);
  return w.bytes;
}

export function ensureSyncData(cacheRoot: string, lines: number, seedLines: number, zone: string, seed = 1): SyncData {
  const dir = join(cacheRoot, `sync-${lines}-${seedLines}-s${seed}-v${DATA_VERSION}`);
  const metaPath = join(dir, 'meta.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as SyncData;
    // The zone is only in the query file; regenerate when it differs.
    if (meta.bigProbe.endsWith(`.${zone}`) && [meta.bigFile, meta.seedFile, meta.queryFile].every(existsSync)) return { ...meta, genSeconds: 0 };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = process.hrtime.bigint();

  // Seed list (the first sync): a different PRNG stream, remembered to keep the probes apart.
  const seedRnd = prng(seed * 7919 + 17);
  const seedSet = new Set<number>();
  const seedFile = join(dir, 'seed.txt');
  writeList(seedFile, `# sync bench seed list: ${seedLines} addresses\n`, (w) => {
    while (seedSet.size < seedLines) {
      const ip = randomAllowed(seedRnd);
      if (seedSet.has(ip)) continue;
      seedSet.add(ip);
      w.ip(ip).nl();
    }
  });
  const seedProbe = seedSet.values().next().value!;

  // Big list: /32s with CIDRs mixed in; a strided sample of the /32s becomes listed queries.
  const rnd = prng(seed * 2654435761 + lines);
  const stride = Math.max(1, Math.floor(lines / (QUERY_COUNT / 2)));
  const listed: number[] = [];
  let s24 = 0;
  let s20 = 0;
  let bigProbe = -1;
  const bigFile = join(dir, 'big.txt');
  const bytes = writeList(bigFile, `# sync bench list: ${lines} entries, seed ${seed}\n`, (w) => {
    for (let i = 0; i < lines; i++) {
      const k = rnd() % 100_000;
      const ip = randomAllowed(rnd);
      if (k < PER_100K_24) {
        s24++;
        w.ip((ip & 0xffffff00) >>> 0).str('/24').nl();
      } else if (k < PER_100K_24 + PER_100K_20) {
        s20++;
        w.ip((ip & 0xfffff000) >>> 0).str('/20').nl();
      } else {
        if (i % stride === 0 && listed.length < QUERY_COUNT / 2) listed.push(ip);
        if (bigProbe < 0 && !seedSet.has(ip)) bigProbe = ip;
        w.ip(ip).nl();
      }
    }
  });

  // Queries: listed and random alternate; A only (the mirror zone's answer).
  const q: string[] = [];
  const qr = prng(seed + 99);
  for (let i = 0; i < QUERY_COUNT; i++) {
    const ip = i % 2 === 0 ? listed[(i >>> 1) % listed.length]! : qr();
    q.push(`${reversedName(ip, zone)} A`);
  }
  const queryFile = join(dir, 'queries.txt');
  writeFileSync(queryFile, q.join('\n') + '\n', { mode: 0o644 });

  const meta: SyncData = {
    dir, bigFile, seedFile, queryFile, lines, seedLines, cidrs: { s24, s20 }, bytes,
    genSeconds: Number(process.hrtime.bigint() - t0) / 1e9,
    bigProbe: reversedName(bigProbe, zone), seedProbe: reversedName(seedProbe, zone),
  };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
  return meta;
}
