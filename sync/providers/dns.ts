// A small stub-resolver client for SPF expansion: one question per exchange over UDP (EDNS0,
// 1232-byte payload), TCP when the answer comes back truncated, a per-try timeout and retries.
// Answers are cached per client, so an SPF chain that names the same host twice asks once.
//
// Outcomes: NOERROR (maybe with no records) and NXDOMAIN are answers; anything else (SERVFAIL,
// REFUSED, timeouts, garbage) throws DnsError: in SPF terms a temperror, the feed run fails and the
// caller keeps its previous ranges.

import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIP } from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';

export interface ResolverAddress {
  address: string;
  port: number;
}

export type QType = 'TXT' | 'A' | 'AAAA' | 'MX';

export interface DnsResult {
  rcode: 'NOERROR' | 'NXDOMAIN';
  /** records of the asked type (owner names not checked: a resolver may have followed CNAMEs) */
  answers: Answer[];
}

export class DnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsError';
  }
}

export interface DnsClientOptions {
  resolver?: ResolverAddress;
  /** one try (UDP exchange, or the TCP fallback), ms; default 2000 */
  timeoutMs?: number;
  /** extra tries after a timeout or SERVFAIL; default 2 */
  retries?: number;
  signal?: AbortSignal;
}

/** The first `nameserver` of /etc/resolv.conf (port 53); 127.0.0.1 when there is none. */
export function systemResolver(path = '/etc/resolv.conf'): ResolverAddress {
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^\s*nameserver\s+(\S+)/.exec(line);
      if (m && isIP(m[1]!.replace(/%.*$/, ''))) return { address: m[1]!.replace(/%.*$/, ''), port: 53 };
    }
  } catch {
    /* no resolv.conf: fall through */
  }
  return { address: '127.0.0.1', port: 53 };
}

export class DnsClient {
  readonly resolver: ResolverAddress;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly signal: AbortSignal | undefined;
  private readonly cache = new Map<string, Promise<DnsResult>>();
  /** network exchanges made (UDP tries + TCP connections) */
  exchanges = 0;

  constructor(opts: DnsClientOptions = {}) {
    this.resolver = opts.resolver ?? systemResolver();
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retries = opts.retries ?? 2;
    this.signal = opts.signal;
  }

  query(name: string, type: QType): Promise<DnsResult> {
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.resolve(name, type);
      this.cache.set(key, p);
    }
    return p;
  }

  private async resolve(name: string, type: QType): Promise<DnsResult> {
    let last = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (this.signal?.aborted) throw new DnsError(`${type} ${name}: aborted`);
      let res: Packet;
      try {
        res = await this.exchangeUdp(name, type);
        if (res.flags !== undefined && res.flags & dnsPacket.TRUNCATED_RESPONSE) res = await this.exchangeTcp(name, type);
      } catch (err) {
        last = (err as Error).message;
        if (err instanceof DnsError && /malformed|mismatch/.test(last)) break;
        continue;
      }
      const rcode = (res as Packet & { rcode?: string }).rcode ?? 'NOERROR';
      if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') {
        return { rcode, answers: (res.answers ?? []).filter((a) => a.type === type) };
      }
      last = `server answered ${rcode}`;
      if (rcode !== 'SERVFAIL') break; // REFUSED, FORMERR...: asking again will not help
    }
    throw new DnsError(`${type} ${name} via ${this.resolver.address}#${this.resolver.port}: ${last}`);
  }

  private encode(id: number, name: string, type: QType): Packet {
    return {
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as Answer],
    };
  }

  private check(res: Packet, id: number, name: string, type: QType): Packet {
    const q = res.questions?.[0];
    if (res.id !== id || !q || q.type !== type || q.name.toLowerCase() !== name.toLowerCase().replace(/\.$/, '')) {
      throw new DnsError(`${type} ${name}: answer does not match the question (mismatch)`);
    }
    return res;
  }

  private exchangeUdp(name: string, type: QType): Promise<Packet> {
    this.exchanges++;
    const id = randomInt(0, 65536);
    const msg = dnsPacket.encode(this.encode(id, name, type));
    const { address, port } = this.resolver;
    const sock = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    return new Promise<Packet>((resolve, reject) => {
      const done = (err: Error | null, p?: Packet) => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', onAbort);
        sock.close();
        if (err) reject(err);
        else resolve(p!);
      };
      const onAbort = () => done(new DnsError(`${type} ${name}: aborted`));
      const timer = setTimeout(() => done(new DnsError(`${type} ${name}: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', (e) => done(new DnsError(`${type} ${name}: ${e.message}`)));
      sock.on('message', (buf, rinfo) => {
        if (rinfo.port !== port) return; // not our server: keep waiting
        let p: Packet;
        try {
          p = dnsPacket.decode(buf);
        } catch {
          return done(new DnsError(`${type} ${name}: malformed answer`));
        }
        if (p.id !== id) return; // a late answer to someone else: keep waiting
        try {
          done(null, this.check(p, id, name, type));
        } catch (e) {
          done(e as Error);
        }
      });
      sock.send(msg, port, address);
    });
  }

  private exchangeTcp(name: string, type: QType): Promise<Packet> {
    this.exchanges++;
    const id = randomInt(0, 65536);
    const msg = dnsPacket.streamEncode(this.encode(id, name, type));
    const { address, port } = this.resolver;
    return new Promise<Packet>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let have = 0;
      const sock = connect({ host: address, port });
      const done = (err: Error | null, p?: Packet) => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        if (err) reject(err);
        else resolve(p!);
      };
      const onAbort = () => done(new DnsError(`${type} ${name}: aborted`));
      const timer = setTimeout(() => done(new DnsError(`${type} ${name}: no TCP answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('connect', () => sock.write(msg));
      sock.on('error', (e) => done(new DnsError(`${type} ${name} (TCP): ${e.message}`)));
      sock.on('end', () => done(new DnsError(`${type} ${name} (TCP): connection closed before the answer`)));
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        have += d.length;
        if (have < 2) return;
        const all = Buffer.concat(chunks);
        const len = all.readUInt16BE(0);
        if (all.length < 2 + len) return;
        try {
          done(null, this.check(dnsPacket.decode(all.subarray(2, 2 + len)), id, name, type));
        } catch (e) {
          done(e instanceof DnsError ? e : new DnsError(`${type} ${name} (TCP): malformed answer`));
        }
      });
    });
  }
}

/** The strings of one TXT record joined (SPF: RFC 7208 §3.3), as latin1 text. */
export function txtText(a: Answer): string {
  const d = (a as { data: unknown }).data;
  const parts = Array.isArray(d) ? d : [d];
  return parts.map((x) => (Buffer.isBuffer(x) ? x.toString('latin1') : String(x))).join('');
}
