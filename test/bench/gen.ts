// Deterministic benchmark data: an rbldnsd ip4set file of N random /32s plus ranges and
// exclusions, and a dnsperf query file (half listed, half random, mixed A/TXT).
// Output is cached by (N, seed, GEN_VERSION) so repeated runs skip regeneration.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { LineWriter, sfc32 as prng } from './datagen.ts';

export const ZONE = 'bl.bench';
const GEN_VERSION = 1;
const QUERY_COUNT = 100_000;
const EXCLUSIONS = 10;

export interface Dataset {
  dir: string; // world-readable directory, used as rbldnsd -w
  dataFile: string; // name relative to dir
  queryFile: string; // absolute path
  entries: number;
  ranges: { s24: number; s20: number; s16: number; excl: number };
  bytes: number;
  genSeconds: number; // 0 when served from cache
  listedProbe: string; // a listed query name, for readiness polling
}

const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
const reversed = (x: number): string => `${x & 255}.${(x >>> 8) & 255}.${(x >>> 16) & 255}.${x >>> 24}.${ZONE}`;

/** Parses "100k", "1M", "10M", "2500000". */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new Error(`bad size "${s}" (use e.g. 100k, 1M, 10M)`);
  const mult = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6;
  return Math.round(Number(m[1]) * mult);
}

export function sizeLabel(n: number): string {
  if (n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

export function ensureDataset(cacheRoot: string, n: number, seed = 1): Dataset {
  const dir = join(cacheRoot, `ip4set-${sizeLabel(n)}-s${seed}-v${GEN_VERSION}`);
  const metaPath = join(dir, 'meta.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Dataset;
    if (existsSync(join(dir, meta.dataFile)) && existsSync(meta.queryFile)) return { ...meta, dir, genSeconds: 0 };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // rbldnsd drops to "nobody" before reading, so everything on the path must be readable.
  chmodSync(cacheRoot, 0o755);
  chmodSync(dir, 0o755);
  const t0 = process.hrtime.bigint();
  const rnd = prng(seed * 2654435761 + n);
  const dataFile = `${ZONE}.ip4set`;
  const tmp = join(dir, dataFile + '.tmp');
  const fd = openSync(tmp, 'w', 0o644);
  const w = new LineWriter(fd);

  w.str(`# quorumbl benchmark data: ${n} /32s, seed ${seed}\n`);
  w.str(`$TTL 35m\n`);
  w.str(`$SOA 0 ns1.${ZONE}. hostmaster.${ZONE}. 1 1h 15m 1w 5m\n`);
  w.str(`$NS 1h ns1.${ZONE}. ns2.${ZONE}.\n`);
  w.str(`:127.0.0.2:Listed, see https://example/lookup?ip=$\n`);

  // Ranges first (random, aligned), remembered for listed queries and exclusions.
  const s24 = Math.floor(n / 500), s20 = Math.floor(n / 20000), s16 = Math.floor(n / 200000);
  const ranges: Array<[number, number]> = []; // [base, prefix length]
  const addRanges = (count: number, len: number, value: string): void => {
    const mask = (0xffffffff << (32 - len)) >>> 0;
    for (let i = 0; i < count; i++) {
      const base = (rnd() & mask) >>> 0;
      ranges.push([base, len]);
      w.ip(base).str(`/${len}${value}`).nl();
    }
  };
  addRanges(s24, 24, '');
  addRanges(s20, 20, ' :127.0.0.3:Listed range, see https://example/lookup?ip=$');
  addRanges(s16, 16, ' :127.0.0.4:');

  // /32s: keep a strided sample as listed query targets.
  const stride = Math.max(1, Math.floor(n / 40000));
  const sample32: number[] = [];
  for (let i = 0; i < n; i++) {
    const ip = rnd();
    if (i % stride === 0) sample32.push(ip);
    w.ip(ip).nl();
  }

  // Exclusions: one host inside some /24 ranges (the /32 level beats the /24 level).
  const excluded = new Set<number>();
  const s24ranges = ranges.filter((r) => r[1] === 24);
  for (let i = 0; i < EXCLUSIONS && s24ranges.length; i++) {
    const [base] = s24ranges[rnd() % s24ranges.length]!;
    const ip = (base | (rnd() & 255)) >>> 0;
    excluded.add(ip);
    w.str('!').ip(ip).nl();
  }
  w.flush();
  closeSync(fd);
  renameSync(tmp, join(dir, dataFile));

  // Query file: half listed (80% sampled /32s, 20% inside ranges), half uniformly random.
  const lines: string[] = [];
  const probeIp = sample32.find((ip) => !excluded.has(ip))!;
  for (let i = 0; i < QUERY_COUNT; i++) {
    let ip: number;
    if (i % 2 === 0) {
      if (ranges.length === 0 || rnd() % 5 !== 0) ip = sample32[rnd() % sample32.length]!;
      else {
        const [base, len] = ranges[rnd() % ranges.length]!;
        ip = (base | (rnd() & (0xffffffff >>> len))) >>> 0;
      }
      if (excluded.has(ip)) ip = probeIp;
    } else ip = rnd();
    lines.push(`${reversed(ip)} ${rnd() & 1 ? 'TXT' : 'A'}`);
  }
  const queryFile = join(dir, 'queries.txt');
  writeFileSync(queryFile, lines.join('\n') + '\n', { mode: 0o644 });

  const genSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const meta: Dataset = {
    dir, dataFile, queryFile, entries: n,
    ranges: { s24, s20, s16, excl: excluded.size },
    bytes: w.bytes, genSeconds, listedProbe: reversed(probeIp),
  };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n', { mode: 0o644 });
  return meta;
}

export { dotted };
