// Replica transfer benchmark: a replica (the Replica controller in this process) takes a zone of
// N A+TXT names from knotd by TSIG-signed AXFR, then an IXFR of 100 changed names. Prints the
// time of each, the records, the copy file size, and the longest event-loop gap during each
// phase (what a UDP answer would have waited), separately for the RecordsDataset build.
//
//   node --import tsx test/bench/replica.ts [NAMES]      (default 100000)

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RecordsDataset } from '../../core/datasets/records.ts';
import { prepareKey } from '../../core/dns/tsig.ts';
import type { Logger } from '../../core/log.ts';
import { Replica } from '../../sync/replica/replica.ts';
import { dig, makeTmpDir, poll } from '../integration/helpers.ts';
import { KnotPrimary } from '../integration/knot-primary.ts';

const N = Number(process.argv[2] ?? 100_000);

function zone(serial: number, changed: number): string {
  const lines = [`$ORIGIN big.test.`, `$TTL 300`, `@ IN SOA ns1 hostmaster ${serial} 3600 600 86400 60`, `@ IN NS ns1`, `ns1 IN A 127.0.0.1`];
  for (let i = 0; i < N; i++) {
    const n = `${i & 255}.${(i >> 8) & 255}.${(i >> 16) & 255}.10`;
    const v = i < changed ? 3 : 2;
    lines.push(`${n} IN A 127.0.0.${v}`, `${n} IN TXT "entry ${i}"`);
  }
  return lines.join('\n') + '\n';
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

async function main(): Promise<void> {
  const knot = new KnotPrimary(null, () => null);
  const dir = makeTmpDir('qbl-replica-bench-');
  await knot.start([{ name: 'big.test', text: zone(1, 0) }]);
  try {
    await poll(async () => ((await dig('127.0.0.1', knot.port, ['big.test', 'SOA'])).status === 'NOERROR' ? true : undefined), 'knotd', { timeoutMs: 300_000 });
    let buildMs = 0;
    let buildGap = 0;
    const h = monitorEventLoopDelay({ resolution: 5 });
    const r = new Replica({
      primary: { host: '127.0.0.1', port: knot.port, key: prepareKey({ name: knot.keyName, algorithm: 'hmac-sha256', secret: knot.secret }), connectTimeoutMs: 5000, timeoutMs: 600_000, maxBytes: 1 << 30 },
      zones: ['big.test'], catalog: null, dir, log: quiet, notifyFrom: ['127.0.0.1'], firstRetry: 3600,
      makeDataset: (recs, meta) => {
        const t = performance.now();
        const ds = new RecordsDataset(recs, meta);
        buildMs = performance.now() - t;
        buildGap = buildMs;
        return ds;
      },
      onChange: () => {},
    });
    h.enable();
    let t = performance.now();
    r.start();
    await poll(async () => (r.status()[0]!.serial === 1 ? true : undefined), 'the AXFR', { timeoutMs: 600_000, intervalMs: 50 });
    const axfrMs = performance.now() - t;
    h.disable();
    const axfrGap = h.max / 1e6;
    const records = r.status()[0]!.records;
    await poll(async () => { try { return statSync(join(dir, 'big.test.copy')).size > 0 ? true : undefined; } catch { return undefined; } }, 'the copy file');
    const axfrBuild = buildMs;
    const axfrBuildGap = buildGap;

    knot.writeZone('big.test', zone(2, 100));
    await knot.ctl(['zone-reload', 'big.test']);
    await poll(async () => ((await dig('127.0.0.1', knot.port, ['big.test', 'SOA'])).answer[0]?.data.includes(' 2 3600') ? true : undefined), 'knotd serial 2', { timeoutMs: 300_000 });
    h.reset();
    h.enable();
    t = performance.now();
    r.notify('big.test', '127.0.0.1');
    await poll(async () => (r.status()[0]!.serial === 2 ? true : undefined), 'the IXFR', { timeoutMs: 600_000, intervalMs: 50 });
    const ixfrMs = performance.now() - t;
    h.disable();
    r.stop();
    console.log(JSON.stringify({
      names: N, records,
      axfr: { ms: Math.round(axfrMs), dataset_build_ms: Math.round(axfrBuild), longest_loop_gap_ms: Math.round(axfrGap), of_which_build_ms: Math.round(axfrBuildGap) },
      ixfr_100_names: { ms: Math.round(ixfrMs), dataset_build_ms: Math.round(buildMs), longest_loop_gap_ms: Math.round(h.max / 1e6) },
      copy_file_bytes: statSync(join(dir, 'big.test.copy')).size,
    }, null, 2));
  } finally {
    await knot.stop();
  }
}

await main();
process.exit(0);
