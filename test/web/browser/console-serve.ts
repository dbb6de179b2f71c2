// The setup most browser tests share: a real `bin/quorumbl serve` with one plain-file source
// (sync disabled, synced once from the shell), the console on its own port, an admin API token
// made with `quorumbl token create`, and the first merge served. Each test names only what
// differs (the listed IPs, the policy, provider feeds, the public page, the state dir).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  dig, freePort, ip4Labels, makeTmpDir, runQuorumbl, spawnQuorumbl, waitForLog, waitReady, writeConfig, type DigReply, type Proc,
} from '../../integration/helpers.ts';

export const BASE = 'dnsbl.test';

export interface ConsoleServeOptions {
  /** Lines of the plain source `spamlist` (IPs). */
  listed: string[];
  /** QUORUMBL_ADMIN_PASSWORD of the first start. */
  password: string;
  /** Inside `policy: { ... }` (default `threshold: 1, consensus: 2`). */
  policy?: string;
  /** Provider feed entries as YAML flow maps; `$DIR` is the test's temp dir (default none). */
  providers?: string[];
  /** State directory (default `<dir>/state`), e.g. a small tmpfs. */
  stateDir?: string;
  /** Port of the public lookup page's own listener (default: no public page). */
  publicPort?: number;
  /** Runs before serve starts (files a provider feed reads). */
  prepare?: (dir: string) => void;
}

export interface ConsoleServe {
  dir: string;
  dns: number;
  cfg: string;
  token: string;
  serve: Proc;
  /** The console's origin, e.g. http://127.0.0.1:PORT. */
  base: string;
  /** A bearer-token API call against the console's listener. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** dig A of an IPv4 address in bl. */
  bl(ip: string): Promise<DigReply>;
}

export async function startConsoleServe(o: ConsoleServeOptions): Promise<ConsoleServe> {
  const dir = makeTmpDir();
  const [dns, web] = [await freePort(), await freePort()];
  const list = join(dir, 'spamlist.txt');
  writeFileSync(list, `# test list\n${o.listed.join('\n')}\n`);
  o.prepare?.(dir);
  const pub = o.publicPort ? `, public: { enabled: true, listen: "127.0.0.1:${o.publicPort}" }` : '';
  const providers = o.providers?.length ? ['providers:', ...o.providers.map((p) => `  - ${p.replaceAll('$DIR', dir)}`)] : ['providers: []'];
  const cfg = writeConfig(dir, [
    `base: ${BASE}`,
    `state_dir: ${o.stateDir ?? `${dir}/state`}`,
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { enabled: true, listen: "127.0.0.1:${web}"${pub} }`,
    'sync: { enabled: false }',
    `policy: { ${o.policy ?? 'threshold: 1, consensus: 2'} }`,
    'sources:',
    `  - { name: spamlist, kind: ip, fetch: ${list}, format: plain, schedule: "0 0 1 1 *", min_interval: 1w, weight: 1 }`,
    ...providers,
    'zones: []',
    '',
  ].join('\n'));
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  assert.equal(s.code, 0, s.output);
  const t = await runQuorumbl(['token', 'create', '--name', 'it', '--scope', 'admin', '--config', cfg]);
  assert.equal(t.code, 0, t.output);
  const token = t.stdout.trim();
  const serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: o.password } });
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 30000);
  if (o.publicPort) await waitForLog(serve, 0, (r) => r.msg === 'public lookup page listening', 'public listener', 30000);
  const base = `http://127.0.0.1:${web}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, json: (await r.json()) as any };
  };
  const bl = (ip: string) => dig('127.0.0.1', dns, [`${ip4Labels(ip)}.bl.${BASE}`, 'A']);
  return { dir, dns, cfg, token, serve, base, api, bl };
}
