// A transfer primary for measurements and manual tries: one zone `bl.test` of N A records
// (RecordsDataset), TSIG key xfr-key (secret below) allowed from 127.0.0.1, on a random port.
//   node --import tsx test/server/xfr/fixture-primary.ts 1000000
//   kdig -y hmac-sha256:xfr-key:c2VjcmV0c2VjcmV0c2VjcmV0 @127.0.0.1 -p PORT bl.test AXFR
// SIGUSR2 publishes a new version (serial + 1, one record added). Prints `PORT n` once the zone
// is materialised. LOOP_DELAY=1: every 2 s, the longest event
// loop delay (ms) on stderr, `loop max_ms=..` (materialising and transfers included).

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import { transferSchema } from '../../../core/config/transfer.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { DnsServer } from '../../../server/index.ts';
import { ZoneTable } from '../../../server/zones.ts';
import { TransferService } from '../../../server/xfr/index.ts';

export const FIXTURE_SECRET = 'c2VjcmV0c2VjcmV0c2VjcmV0';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10);
  if (process.env.LOOP_DELAY) {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    setInterval(() => {
      process.stderr.write(`loop max_ms=${(h.max / 1e6).toFixed(1)} p99_ms=${(h.percentile(99) / 1e6).toFixed(1)}\n`);
      h.reset();
    }, 2000).unref();
  }
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
  const soa = { ttl: 300, mname: 'ns1.example', rname: 'hostmaster.example', serial: 10, refresh: 3600, retry: 600, expire: 86400, minimum: 60 };
  const recs: ZoneRecord[] = [];
  for (let i = 0; i < n; i++) recs.push({ name: `${i & 255}.${(i >> 8) & 255}.${(i >> 16) & 255}.10`, type: 1, ttl: 300, data: '127.0.0.2' });
  const ds = new RecordsDataset(recs, { soa, ns: { ttl: 300, names: ['ns1.example.'] } });
  const table = new ZoneTable([{ name: 'bl.test', datasets: [ds], newestMtime: 0 }]);
  const server = new DnsServer(
    { listen: [{ address: '127.0.0.1', port: 0 }], tcp: { enabled: true, idleTimeoutMs: 10_000, maxConnections: 64 }, maxUdpPayload: 1232, allowQuery: null, lazy: false, version: 'version', versionText: 'x', logger: log },
    table,
  );
  await server.start();
  const cfg = transferSchema.parse({ keys: [{ name: 'xfr-key', secret: FIXTURE_SECRET }], acl: { '*': { allow: ['127.0.0.1/32'], keys: ['xfr-key'] } } });
  const svc = new TransferService(cfg, 'test', () => server.zones, log);
  server.setTransferHandler(svc.handler);
  svc.start();
  await svc.versions.settle();
  // SIGUSR2: a new version (serial + 1, one more record), as a reload would make it.
  let serial = soa.serial;
  process.on('SIGUSR2', () => {
    serial++;
    recs.push({ name: `added-${serial}`, type: 1, ttl: 300, data: '127.0.0.3' });
    server.swap(new ZoneTable([{ name: 'bl.test', datasets: [new RecordsDataset(recs.slice(), { soa: { ...soa, serial }, ns: { ttl: 300, names: ['ns1.example.'] } })], newestMtime: 0 }]));
  });
  process.stdout.write(`PORT ${server.addresses[0]!.port}\n`);
}

void main();
