// `quorumbl explain KEY [--json]`: the verdict for an IP or domain with its full trace, computed
// in this process by the same code the server answers with (the sources' current copies, the
// providers' last good ranges, the overrides and reputation in the state database).

import { parseCommand, type CommandSpec } from './args.ts';
import { pino } from 'pino';
import type { LoadedConfig } from '../core/config/load.ts';
import { ZoneStore } from '../core/zones/store.ts';
import { formatExplanation } from '../sync/merge/explain.ts';
import { offlineMerge } from './offline-merge.ts';
import type { RuntimeSpec } from './runtime.ts';
import { mirrorZones } from './sync.ts';

export const EXPLAIN: CommandSpec = {
  name: 'explain', positionals: [1, 1], needs: 'a KEY', options: { json: { type: 'boolean' } },
  usage: `usage: quorumbl explain KEY [--json] [--config FILE]
  KEY: an IPv4/IPv6 address or a domain; why it is, or is not, in bl/wl/dbl.`,
};

/** args: as given (flag mistakes throw ArgsError: main prints the usage, exit 2). */
export async function explainCommand(args: string[], cfg: LoadedConfig, spec: RuntimeSpec): Promise<number> {
  const { values, positionals } = parseCommand(EXPLAIN, args);
  const key = positionals[0]!;
  const stateDir = spec.stateDir!;
  const log = pino({ level: 'silent' });
  const mirrors = mirrorZones(cfg, stateDir);
  const store = new ZoneStore(mirrors, { settings: spec.settings, stateDir, log, onChange: () => {} });
  await store.loadSnapshots();
  await store.check();
  const { merge, db } = offlineMerge(cfg, stateDir, store, mirrors, log);
  await merge.rebuild();
  try {
    const x = merge.explain(key);
    process.stdout.write(values.json ? JSON.stringify(x, null, 2) + '\n' : formatExplanation(x) + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`explain: ${(e as Error).message}\n`);
    return 2;
  } finally {
    db.close();
  }
}
