// NOTIFY (RFC 1996): tells the configured secondaries that a zone has a new serial, so they ask
// for its SOA and transfer at once instead of at their next refresh. UDP, TSIG-signed with the
// target's key (RFC 8945); a NOTIFY not answered is sent again after 2, 4, 8, 16 s (5 tries;
// given up 62 s after the first, when the fifth has had its 32 s); a newer serial of the same
// zone for the same target replaces the pending one (its tries start again). A target that
// never answers, answers with an error or with a reply whose TSIG does not verify is logged
// with the target and the zone and counted (Counters.notifyFailed). All of it is a few packets
// per zone change on its own socket: nothing here is on the query path.

import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../../core/log.ts';
import { encodeName, parseMessage, rcodeName, T } from '../../core/dns/message.ts';
import { prepareKey, signQuery, TsigVerifier, type PreparedKey, type TsigKey } from '../../core/dns/tsig.ts';

export interface NotifyTarget {
  /** `host:port`, `[v6]:port`, or an address alone (port 53). */
  address: string;
  /** Name of a TSIG key (in `keys`); unsigned when absent. */
  key?: string;
  /** Zones this target is told about: full names, or '*' for every zone. */
  zones: string[];
}

export interface NotifyOptions {
  targets: readonly NotifyTarget[];
  keys: readonly TsigKey[];
  log: Logger;
  /** Bumped once per NOTIFY given up (no answer after the last try, an error answer, a bad
   *  signature). */
  onFailure?: (target: string, zone: string, why: string) => void;
  onAnswered?: (target: string, zone: string) => void;
  /** Tries and the first wait (ms; doubled after each try). Tests shorten them. */
  tries?: number;
  firstWaitMs?: number;
}

interface Target {
  label: string;
  host: string;
  port: number;
  family: 'udp4' | 'udp6';
  key: PreparedKey | null;
  keyName: string | null;
  all: boolean;
  zones: Set<string>;
}

interface Pending {
  target: Target;
  zone: string;
  serial: number;
  tries: number;
  id: number;
  timer: NodeJS.Timeout | null;
  verifier: TsigVerifier | null;
}

export class NotifyError extends Error {}

/** `host:port` -> parts; throws NotifyError naming the address when it is not one. */
export function parseTarget(address: string): { host: string; port: number } {
  let host = address;
  let port = 53;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if (isIP(address) !== 6) {
    const m = /^([^:]+):(\d+)$/.exec(address);
    if (m) {
      host = m[1]!;
      port = Number(m[2]);
    }
  }
  if (!isIP(host)) throw new NotifyError(`notify address "${address}": not an IP address (write 192.0.2.1:53 or [2001:db8::1]:53)`);
  if (!(port > 0 && port < 65536)) throw new NotifyError(`notify address "${address}": port out of range`);
  return { host, port };
}

const norm = (z: string) => z.toLowerCase().replace(/\.$/, '');

export class Notifier {
  private readonly targets: Target[];
  private readonly pending = new Map<string, Pending>();
  private readonly byId = new Map<number, Pending>();
  private readonly sockets: Partial<Record<'udp4' | 'udp6', Socket>> = {};
  private readonly tries: number;
  private readonly firstWait: number;
  private closed = false;
  /** NOTIFYs answered, and given up (for /metrics and tests). */
  answered = 0;
  failed = 0;

  constructor(private readonly opts: NotifyOptions) {
    this.tries = opts.tries ?? 5;
    this.firstWait = opts.firstWaitMs ?? 2000;
    const keys = new Map(opts.keys.map((k) => [k.name, k]));
    this.targets = opts.targets.map((t) => {
      const { host, port } = parseTarget(t.address);
      let key: PreparedKey | null = null;
      if (t.key !== undefined) {
        const k = keys.get(t.key);
        if (!k) throw new NotifyError(`notify target ${t.address}: key "${t.key}" is not in transfer.keys`);
        key = prepareKey(k);
      }
      return {
        label: t.address,
        host,
        port,
        family: isIP(host) === 6 ? 'udp6' : 'udp4',
        key,
        keyName: t.key ?? null,
        all: t.zones.includes('*'),
        zones: new Set(t.zones.filter((z) => z !== '*').map(norm)),
      } satisfies Target;
    });
  }

  /** A zone has a new serial: tell every target that wants it. Returns how many were told. */
  notify(zone: string, serial: number): number {
    if (this.closed) return 0;
    const z = norm(zone);
    let n = 0;
    for (const t of this.targets) {
      if (!t.all && !t.zones.has(z)) continue;
      n++;
      const k = `${t.label}\t${z}`;
      const old = this.pending.get(k);
      if (old) this.drop(old); // a newer serial replaces the pending one
      const p: Pending = { target: t, zone: z, serial, tries: 0, id: 0, timer: null, verifier: null };
      this.pending.set(k, p);
      this.send(p);
    }
    return n;
  }

  /** NOTIFYs waiting for an answer now (zone -> targets), for /readyz-style detail. */
  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) this.drop(p);
    for (const s of Object.values(this.sockets)) s?.close();
  }

  private socket(family: 'udp4' | 'udp6'): Socket {
    let s = this.sockets[family];
    if (!s) {
      s = createSocket(family);
      s.on('message', (msg) => this.onReply(msg));
      s.on('error', (err) => this.opts.log.warn({ err: err.message }, 'NOTIFY socket error'));
      s.bind(0);
      s.unref();
      this.sockets[family] = s;
    }
    return s;
  }

  private newId(): number {
    for (;;) {
      const id = (Math.random() * 0x10000) | 0;
      if (!this.byId.has(id)) return id;
    }
  }

  private send(p: Pending): void {
    if (p.id) this.byId.delete(p.id);
    p.tries++;
    p.id = this.newId();
    let msg = notifyMessage(p.id, p.zone);
    p.verifier = null;
    if (p.target.key) {
      const signed = signQuery(msg, p.target.key);
      msg = signed.msg;
      p.verifier = new TsigVerifier(p.target.key, signed.mac);
    }
    this.byId.set(p.id, p);
    const wait = this.firstWait * 2 ** (p.tries - 1);
    p.timer = setTimeout(() => this.onTimeout(p), wait);
    p.timer.unref();
    this.socket(p.target.family).send(msg, p.target.port, p.target.host, (err) => {
      if (err) this.opts.log.debug({ target: p.target.label, zone: p.zone, err: err.message }, 'NOTIFY not sent');
    });
  }

  private onTimeout(p: Pending): void {
    p.timer = null;
    if (p.tries < this.tries) {
      this.send(p);
      return;
    }
    this.fail(p, `no answer after ${p.tries} tries`);
  }

  private onReply(buf: Buffer): void {
    if (buf.length < 12) return;
    const p = this.byId.get(buf.readUInt16BE(0));
    if (!p) return;
    const flags = buf.readUInt16BE(2);
    if (!(flags & 0x8000) || ((flags >> 11) & 0xf) !== 4) return; // not a NOTIFY response
    let why: string | null = null;
    try {
      const m = parseMessage(buf);
      if (m.rcode !== 0) why = `answered ${rcodeName(m.rcode)}`;
      else if (p.verifier) p.verifier.verify(m);
    } catch (e) {
      why = `bad answer: ${(e as Error).message}`;
    }
    if (why) {
      // An answer with an error is the secondary's word (a wrong key, a zone it does not
      // serve): sending it again would get the same.
      this.fail(p, why);
      return;
    }
    this.answered++;
    this.opts.onAnswered?.(p.target.label, p.zone);
    this.opts.log.debug({ target: p.target.label, zone: p.zone, serial: p.serial, tries: p.tries }, 'NOTIFY answered');
    this.drop(p);
  }

  private fail(p: Pending, why: string): void {
    this.failed++;
    this.opts.log.warn(
      { target: p.target.label, zone: p.zone, serial: p.serial, key: p.target.keyName, why },
      `NOTIFY of ${p.zone} to ${p.target.label} failed: ${why}`,
    );
    this.opts.onFailure?.(p.target.label, p.zone, why);
    this.drop(p);
  }

  private drop(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    if (p.id) this.byId.delete(p.id);
    const k = `${p.target.label}\t${p.zone}`;
    if (this.pending.get(k) === p) this.pending.delete(k);
  }
}

/** A NOTIFY request: opcode 4, AA, one question `zone SOA IN` (RFC 1996 3.7). */
export function notifyMessage(id: number, zone: string): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE((4 << 11) | 0x0400, 2);
  head.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(T.SOA, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([head, encodeName(zone), tail]);
}
