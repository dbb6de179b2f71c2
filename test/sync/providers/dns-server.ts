// Serves test/fixtures/providers/spf-zone.json from a real knotd on a random loopback port (one
// zone per apex listed in the fixture), plus generated records (a TXT record too big for UDP).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DnsClient } from '../../../sync/providers/dns.ts';
import { Daemon, freePort, tmpDir, waitFor } from '../fetch/helpers.ts';

export const PROVIDER_FIXTURES = new URL('../../fixtures/providers/', import.meta.url).pathname;

interface ZoneFixture {
  zones: string[];
  txt: Record<string, (string | string[])[]>;
  a: Record<string, string[]>;
  aaaa: Record<string, string[]>;
  mx: Record<string, [number, string][]>;
}

/** A TXT record of `big.example` far above 1232 bytes: answered over UDP only with TC set. */
export const BIG_COUNT = 120;
export function bigRecord(): string {
  const terms = [];
  for (let i = 0; i < BIG_COUNT; i++) terms.push(`ip4:198.18.${i}.0/24`);
  return `v=spf1 ${terms.join(' ')} -all`;
}

function quoteStrings(v: string | string[]): string {
  const parts = Array.isArray(v) ? v : chunk(v, 250);
  return parts.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(' ');
}

function chunk(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out.length ? out : [''];
}

export class SpfDnsServer {
  port = 0;
  private knot: Daemon | null = null;

  async start(): Promise<this> {
    const fx = JSON.parse(readFileSync(join(PROVIDER_FIXTURES, 'spf-zone.json'), 'utf8')) as ZoneFixture;
    fx.txt['big.example'] = [bigRecord()];
    const dir = tmpDir('qbl-spf-knot-');
    this.port = await freePort();
    const zones = new Map<string, string[]>(fx.zones.map((z) => [z, [`$ORIGIN ${z}.`, `$TTL 300`, `@ SOA ns.${z}. hostmaster.${z}. 1 3600 600 86400 300`, `@ NS ns.invalid.`]]));
    const zoneOf = (name: string): string[] => {
      const z = [...zones.keys()].filter((k) => name === k || name.endsWith(`.${k}`)).sort((x, y) => y.length - x.length)[0];
      if (!z) throw new Error(`no fixture zone for ${name}`);
      return zones.get(z)!;
    };
    for (const [name, recs] of Object.entries(fx.txt)) for (const r of recs) zoneOf(name).push(`${name}. TXT ${quoteStrings(r)}`);
    for (const [name, ips] of Object.entries(fx.a)) for (const ip of ips) zoneOf(name).push(`${name}. A ${ip}`);
    for (const [name, ips] of Object.entries(fx.aaaa)) for (const ip of ips) zoneOf(name).push(`${name}. AAAA ${ip}`);
    for (const [name, mxs] of Object.entries(fx.mx)) for (const [pref, host] of mxs) zoneOf(name).push(`${name}. MX ${pref} ${host}.`);
    let conf = `server:\n  rundir: ${dir}\n  listen: 127.0.0.1@${this.port}\ndatabase:\n  storage: ${dir}\nlog:\n  - target: stderr\n    any: warning\nzone:\n`;
    for (const [z, lines] of zones) {
      writeFileSync(join(dir, `${z}.zone`), `${lines.join('\n')}\n`);
      conf += `  - domain: ${z}\n    storage: ${dir}\n    file: ${z}.zone\n`;
    }
    writeFileSync(join(dir, 'knot.conf'), conf);
    this.knot = new Daemon('knotd', ['-c', join(dir, 'knot.conf')]);
    const knot = this.knot;
    await waitFor(async () => {
      if (!knot.running) throw new Error(`knotd exited: ${knot.output}`);
      try {
        const c = new DnsClient({ resolver: this.resolver, timeoutMs: 300, retries: 0 });
        const checks = await Promise.all(fx.zones.map((z) => c.query(z, 'TXT').then(() => true, () => false)));
        return checks.every(Boolean);
      } catch {
        return false;
      }
    }, 'knotd to serve the SPF fixture zones');
    return this;
  }

  get resolver(): { address: string; port: number } {
    return { address: '127.0.0.1', port: this.port };
  }

  async stop(): Promise<void> {
    await this.knot?.stop();
  }
}
