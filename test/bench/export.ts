// Export of a big zone: the rbldnsd and zone-file writers over N listed keys (records made
// here, as bl's records() gives them: names, a few wildcards, one or two A and a TXT each).
// Prints time, bytes, records, peak RSS and the longest time between two chunks (the longest
// the HTTP download keeps the event loop from DNS answers).
//   node --import tsx test/bench/export.ts [keys=1000000] [rbldnsd|zonefile]

import { exportChunks } from '../../core/zones/export.ts';
import type { ZoneRecord } from '../../core/zones/records.ts';
import type { ExportZone } from '../../core/zones/export-zone.ts';

const n = Number(process.argv[2] ?? 1_000_000);
const format = (process.argv[3] ?? 'rbldnsd') as 'rbldnsd' | 'zonefile';

function* records(): Generator<ZoneRecord> {
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s);
  for (let i = 0; i < n / 100; i++) {
    const p = r();
    yield { name: `*.${(p >>> 8) & 255}.${(p >>> 16) & 255}.${p >>> 24}`, type: 1, ttl: 300, data: '127.0.0.2' };
  }
  for (let i = 0; i < n; i++) {
    const p = r();
    const name = `${p & 255}.${(p >>> 8) & 255}.${(p >>> 16) & 255}.${p >>> 24}`;
    yield { name, type: 1, ttl: 300, data: '127.0.0.2' };
    if (i % 3 === 0) yield { name, type: 1, ttl: 300, data: '127.0.0.5' };
    yield { name, type: 16, ttl: 300, data: 'Listed by dnsbl.example (sources: a, b)' };
  }
}

const zone: ExportZone = {
  name: 'bl.example',
  soa: { ttl: 300, mname: 'ns.example', rname: 'hm.example', serial: 1, refresh: 600, retry: 300, expire: 86400, minimum: 60 },
  ns: { ttl: 300, names: ['ns.example'] },
  records: records,
};

let peak = 0;
const t0 = performance.now();
let last = t0;
let longest = 0;
let longestAt = 0;
let bytes = 0;
let chunks = 0;
let problems = 0;
for (const c of exportChunks(zone, format, { maxExpansion: 65536, report: () => problems++ })) {
  const now = performance.now();
  if (now - last > longest) (longest = now - last), (longestAt = chunks);
  bytes += Buffer.byteLength(c);
  chunks++;
  if (chunks % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  last = performance.now();
}
peak = Math.max(peak, process.memoryUsage().rss);
console.log(JSON.stringify({ format, keys: n, seconds: +((performance.now() - t0) / 1000).toFixed(2), bytes, chunks, longestGapMs: +longest.toFixed(1), longestAt, peakRssMB: Math.round(peak / 2 ** 20), problems }));
