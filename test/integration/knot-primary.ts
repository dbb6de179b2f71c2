// Knot DNS (`knotd`) as a primary for the replica tests: its own temp config, rundir and
// storage; zones from zone files, a generated catalog zone (RFC 9432), TSIG-only transfers,
// NOTIFY to a given address; `knotc` reloads a zone after its file changed (serial bumped),
// and Knot serves the difference by IXFR from its journal.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTmpDir, Proc } from './helpers.ts';

export interface KnotZone {
  name: string;
  /** zone file text; null = not a file zone (the catalog) */
  text: string;
  /** member of the generated catalog */
  member?: boolean;
  /** false: knotd sends no NOTIFY for it (SOA polling must find its changes) */
  notify?: boolean;
}

export class KnotPrimary {
  readonly dir = makeTmpDir('qbl-knot-');
  readonly secret = randomBytes(32).toString('base64');
  readonly keyName = 'xfr-key';
  port = 0;
  proc: Proc | null = null;
  zones: KnotZone[] = [];

  /** notifyKey: NOTIFY is TSIG-signed with the transfer key (knotd then checks the reply's). */
  constructor(readonly catalog: string | null, private notifyTo: () => number | null, private notifyKey = false) {}

  get tsigArg(): string {
    return `hmac-sha256:${this.keyName}:${this.secret}`;
  }

  writeZone(name: string, text: string): void {
    writeFileSync(join(this.dir, `${name}.zone`), text);
  }

  private config(): string {
    const notify = this.notifyTo();
    const lines = [
      'server:',
      `  rundir: ${this.dir}`,
      `  listen: 127.0.0.1@${this.port}`,
      'key:',
      `  - id: ${this.keyName}`,
      '    algorithm: hmac-sha256',
      `    secret: ${this.secret}`,
      'acl:',
      '  - id: xfr',
      '    address: 127.0.0.1',
      `    key: ${this.keyName}`,
      '    action: transfer',
    ];
    if (notify !== null) {
      lines.push('remote:', '  - id: replica', `    address: 127.0.0.1@${notify}`);
      if (this.notifyKey) lines.push(`    key: ${this.keyName}`);
    }
    lines.push(
      'template:',
      '  - id: default',
      `    storage: ${this.dir}`,
      '    zonefile-load: difference',
      '    journal-content: changes',
      '    zonefile-sync: -1',
      '    semantic-checks: off',
      '    acl: xfr',
      'database:',
      `  storage: ${this.dir}`,
      'zone:',
    );
    if (this.catalog) {
      lines.push(`  - domain: ${this.catalog}`, '    catalog-role: generate');
      if (notify !== null) lines.push('    notify: replica');
    }
    for (const z of this.zones) {
      lines.push(`  - domain: ${z.name}`, `    file: ${z.name}.zone`);
      if (notify !== null && z.notify !== false) lines.push('    notify: replica');
      if (z.member && this.catalog) lines.push('    catalog-role: member', `    catalog-zone: ${this.catalog}`);
    }
    lines.push('log:', '  - target: stderr', '    any: info');
    return lines.join('\n') + '\n';
  }

  async start(zones: KnotZone[]): Promise<void> {
    this.zones = zones;
    if (!this.port) this.port = await freePort();
    for (const z of zones) this.writeZone(z.name, z.text);
    writeFileSync(join(this.dir, 'knot.conf'), this.config());
    this.proc = new Proc('knotd', 'knotd', ['-c', join(this.dir, 'knot.conf')], {});
  }

  /** Rewrites the config (zones added or removed) and has knotd re-read it. */
  async setZones(zones: KnotZone[]): Promise<void> {
    this.zones = zones;
    for (const z of zones) this.writeZone(z.name, z.text);
    writeFileSync(join(this.dir, 'knot.conf'), this.config());
    await this.ctl(['reload']);
  }

  ctl(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('knotc', ['-c', join(this.dir, 'knot.conf'), '-s', join(this.dir, 'knot.sock'), ...args], { timeout: 15000 }, (err, out, errOut) => {
        if (err) reject(new Error(`knotc ${args.join(' ')}: ${err.message}\n${out}${errOut}`));
        else resolve(out);
      });
    });
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
  }
}
