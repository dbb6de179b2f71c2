// rbldnsd's command line, so an existing rbldnsd setup switches by changing the binary.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseTime, type TtlLimits } from '../core/rbldnsd/state.ts';
import { RBLDNSD_TYPES } from '../core/datasets/index.ts';
import type { ZoneSpec } from '../core/zones/spec.ts';

export class UsageError extends Error {}

export const RBLDNSD_USAGE = `usage: quorumbl rbldnsd [options] zone:type:file[,file...]...
  rbldnsd's command line and data files (see rbldnsd(8)):
  -b addr[/port]  listen (repeatable; required unless -d)   -w dir   base directory of the files
  -t def:min:max  TTLs        -c time  check interval       -e       accept host bits in CIDRs
  -q  answer before loading   -l file  query log            -s file  statistics
  -p file  pid file           -u user[:group]  run as       -a / -A  lazy / full NS sections
  -v  hide version (-vv: refuse)  -C  no gunzip             -d  dump the zones (BIND format)
  -4 / -6  address family     -n -f  accepted (always foreground)   -h  this text`;

export interface RbldnsdArgs {
  binds: string[];
  workDir?: string;
  ttl: TtlLimits;
  checkInterval: number;
  acceptHostBits: boolean;
  quick: boolean;
  queryLog?: string;
  statsFile?: string;
  pidFile?: string;
  user?: string;
  lazy: boolean;
  /** -v count: 0 = real version, 1 = plain name, 2 = REFUSED. */
  hideVersion: number;
  gunzip: boolean;
  dump: boolean;
  family?: 4 | 6;
  zones: ZoneSpec[];
  /** Options accepted for compatibility that change nothing here. */
  ignored: string[];
}

const WITH_ARG = new Set(['b', 'r', 'w', 't', 'c', 'l', 's', 'p', 'u', 'x', 'X', 'F']);
const FLAGS = new Set(['n', 'q', 'e', 'a', 'A', 'v', 'C', 'd', 'f', '4', '6', 'h']);

function time(text: string, what: string): number {
  const t = parseTime(text);
  if (t === undefined) throw new UsageError(`invalid time "${text}" for ${what}`);
  return t;
}

/** -t def[:min[:max]], any part may be empty. */
export function parseTtlOption(text: string): TtlLimits {
  const [d, mn, mx, extra] = text.split(':');
  if (extra !== undefined) throw new UsageError(`invalid -t "${text}" (def:min:max)`);
  const ttl: TtlLimits = { def: 2100, min: 0, max: 0xffffffff };
  if (d) ttl.def = time(d, '-t');
  if (mn) ttl.min = time(mn, '-t min');
  if (mx) ttl.max = time(mx, '-t max');
  if (ttl.def === 0) throw new UsageError('-t: the default TTL cannot be 0');
  if (ttl.def < ttl.min || ttl.def > ttl.max) throw new UsageError(`-t: default TTL ${ttl.def} outside ${ttl.min}..${ttl.max}`);
  return ttl;
}

export function parseRbldnsdArgs(argv: string[]): RbldnsdArgs {
  const a: RbldnsdArgs = {
    binds: [], ttl: { def: 2100, min: 0, max: 0xffffffff }, checkInterval: 60, acceptHostBits: false, quick: false,
    lazy: false, hideVersion: 0, gunzip: true, dump: false, zones: [], ignored: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg.startsWith('--')) throw new UsageError(arg === '--help' ? 'help' : `unknown option ${arg.replace(/=.*/, '')} (rbldnsd takes single-letter options)`);
    for (let j = 1; j < arg.length; j++) {
      const o = arg[j]!;
      if (WITH_ARG.has(o)) {
        let v = arg.slice(j + 1);
        if (!v) {
          v = argv[++i] ?? '';
          if (i >= argv.length) throw new UsageError(`option -${o} requires an argument`);
        }
        applyValue(a, o, v);
        break;
      }
      if (!FLAGS.has(o)) throw new UsageError(`unknown option -${o}`);
      switch (o) {
        case 'n': case 'f': break; // always foreground; reloads never stop answering
        case 'q': a.quick = true; break;
        case 'e': a.acceptHostBits = true; break;
        case 'a': a.lazy = true; break;
        case 'A': a.lazy = false; break;
        case 'v': a.hideVersion++; break;
        case 'C': a.gunzip = false; break;
        case 'd': a.dump = true; break;
        case '4': a.family = 4; break;
        case '6': a.family = 6; break;
        case 'h': throw new UsageError('help');
      }
    }
  }
  const specs = argv.slice(i);
  if (!specs.length) throw new UsageError('no zones specified (zone:type:file[,file...])');
  if (!a.binds.length && !a.dump) throw new UsageError('no listening address specified (-b address[/port])');
  const base = a.workDir ?? process.cwd();
  const byName = new Map<string, ZoneSpec>();
  for (const s of specs) {
    const c1 = s.indexOf(':');
    const c2 = c1 < 0 ? -1 : s.indexOf(':', c1 + 1);
    if (c1 < 0 || c2 < 0) throw new UsageError(`invalid zone spec "${s}" (zone:type:file[,file...])`);
    const name = s.slice(0, c1).replace(/\.$/, '').toLowerCase();
    const type = s.slice(c1 + 1, c2).toLowerCase();
    const files = s.slice(c2 + 1).split(/[,:]/).filter(Boolean).map((f) => resolve(base, f));
    if (!RBLDNSD_TYPES.has(type)) throw new UsageError(`"${s}": unknown dataset type "${type}"`);
    // The empty zone name is rbldnsd's global ACL (`:acl:file`); it is kept as a zone named ''.
    if (!name && type !== 'acl') throw new UsageError(`"${s}": missing zone name`);
    if (!files.length) throw new UsageError(`"${s}": no files given`);
    let z = byName.get(name);
    if (!z) byName.set(name, (z = { name, datasets: [] }));
    if (type === 'acl' && z.datasets.some((d) => d.type === 'acl')) {
      throw new UsageError(name ? `"${s}": repeated ACL definition for zone ${name}` : `"${s}": global acl specified more than once`);
    }
    z.datasets.push({ type, files });
  }
  for (const z of byName.values()) {
    if (z.name && !z.datasets.some((d) => d.type !== 'acl')) throw new UsageError(`missing data for zone ${z.name} (an acl alone is not a zone)`);
  }
  a.zones = [...byName.values()];
  return a;
}

function applyValue(a: RbldnsdArgs, o: string, v: string): void {
  switch (o) {
    case 'b': a.binds.push(v); break;
    case 'w': a.workDir = v; break;
    case 'r': throw new UsageError('-r (chroot) is not supported: use -w, and run under a container or systemd sandbox');
    case 't': a.ttl = parseTtlOption(v); break;
    case 'c': a.checkInterval = time(v, '-c'); break;
    case 'l': a.queryLog = v; break;
    case 's': a.statsFile = v; break;
    case 'p': a.pidFile = v; break;
    case 'u': a.user = v; break;
    case 'x': case 'X': throw new UsageError(`-${o}: rbldnsd extensions are not supported`);
    case 'F': a.ignored.push(`-F ${v}`); break;
  }
}

/** inet_aton forms (`127.2` = 127.0.0.2, `10.1.2` = 10.1.0.2, one number = 32 bits). */
function inetAton(text: string): string | undefined {
  if (!/^\d+(\.\d+){0,3}$/.test(text)) return undefined;
  const p = text.split('.').map(Number);
  const last = p.pop()!;
  const lastBits = 8 * (4 - p.length);
  if (p.some((x) => x > 255) || last >= 2 ** lastBits) return undefined;
  const v = p.reduce((acc, x, k) => acc + x * 2 ** (24 - 8 * k), 0) + last;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** `-b` value: host[/port]; a host name binds all its addresses. */
export async function resolveBind(text: string, family?: 4 | 6): Promise<{ address: string; port: number }[]> {
  const slash = text.lastIndexOf('/');
  const host = slash >= 0 ? text.slice(0, slash) : text;
  const portText = slash >= 0 ? text.slice(slash + 1) : '53';
  const port = /^\d+$/.test(portText) ? Number(portText) : portText === 'domain' ? 53 : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`-b ${text}: invalid port "${portText}"`);
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return [{ address: bare, port }];
  const v4 = inetAton(bare);
  if (v4) return [{ address: v4, port }];
  try {
    const all = await lookup(bare || '0.0.0.0', { all: true, family });
    const seen = new Set<string>();
    return all.filter((x) => !seen.has(x.address) && seen.add(x.address)).map((x) => ({ address: x.address, port }));
  } catch {
    throw new UsageError(`-b ${text}: cannot resolve "${bare}"`);
  }
}
