// A small stand-alone server for manual checks and dnsperf runs (not a test):
//   node --import tsx test/server/fixture-server.ts PORT [ip4set-file]
// Serves bl.example (ip4set: the given file or a few built-in entries) on 127.0.0.1:PORT.

import { readFileSync } from 'node:fs';
import { dataset, options, table } from './helpers.ts';
import { DnsServer } from '../../server/index.ts';

const port = Number(process.argv[2] ?? 5353);
const file = process.argv[3];
const text = file
  ? readFileSync(file, 'latin1')
  : [
      '$SOA 1h ns1.example.net hostmaster.example.net 2024010101 2h 30m 1w 5m',
      '$NS 1d ns1.example.net ns2.example.net',
      '$TTL 15m',
      ':127.0.0.2:Listed: see https://bl.example/lookup?ip=$',
      '10.2.0.0/17',
    ].join('\n');
const zones = table([{ name: 'bl.example', datasets: [dataset('ip4set', text)], newestMtime: 1700000000 }]);
const server = new DnsServer(options({ listen: [{ address: '127.0.0.1', port }] }), zones);
await server.start();
console.log(`listening on ${JSON.stringify(server.addresses)}`);
const stop = () => {
  console.log(server.counters.statsLine());
  void server.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
