// Prints the oracle's (or quorumbl's) answers for the whole differential corpus, for debugging:
//   node --import tsx test/differential/dump.ts [rbldnsd|quorumbl] [topic-substring]

import { mapLimit, UdpClient } from './client.ts';
import { describe, lines } from './compare.ts';
import { INSTANCES, TOPICS, type InstanceName } from './corpus.ts';
import { prepareDataDir, removeDataDir, startServer, type Impl, type Server } from './servers.ts';
import { buildQuery, normalize } from './wire.ts';

const impl = (process.argv[2] ?? 'rbldnsd') as Impl;
const filter = process.argv[3] ?? '';
const dir = prepareDataDir();
const servers: Partial<Record<InstanceName, Server>> = {};
try {
  for (const topic of TOPICS.filter((t) => t.title.includes(filter))) {
    const s = (servers[topic.instance] ??= await startServer(impl, dir, INSTANCES[topic.instance].opts, INSTANCES[topic.instance].zones));
    console.log(`\n##### ${topic.title} (instance ${topic.instance})`);
    const c = new UdpClient(s.port);
    const out = await mapLimit(topic.queries, 8, async (q) => {
      const r = await c.exchange((id) => buildQuery(id, q.name, q.qtype, q.qclass ?? 1, q.flags ?? {}));
      return [`* ${describe(q)}`, ...lines(r ? normalize(r) : null).map((l) => `  ${l}`)].join('\n');
    });
    c.close();
    console.log(out.join('\n'));
  }
} finally {
  for (const s of Object.values(servers)) await s!.stop();
  removeDataDir(dir);
}
