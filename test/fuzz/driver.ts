// Sends mutated queries (mutate.ts) to a running DNS server over UDP and TCP and checks every
// reply: dns-packet decodes it, it has the query's ID and QR, it echoes the question when it
// has one, and a UDP reply without EDNS fits 512 bytes. Used by test/fuzz/dns.test.ts and
// test/bench/fuzz.ts.
//
// UDP: batches of messages with distinct IDs, each followed by a known-good "sentinel" query
// (ID 0). The server answers one socket in order, so once the sentinel's reply is in, every
// message of the batch has been handled: no reply by then means the server dropped it.
// TCP: each connection gets a byte stream of framed messages (honest, split into small
// segments, or with lying length prefixes). The server's framing is a pure function of the
// stream, so the messages it saw are computed here and the replies matched against them.

import { createSocket } from 'node:dgram';
import { Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import { questionEnd } from '../differential/wire.ts';
import { mutatedQuery, type Rng } from './mutate.ts';

export interface Failure {
  transport: 'udp' | 'tcp';
  why: string;
  ops: string[];
  query: string; // hex
  reply?: string; // hex
}

export interface FuzzStats {
  sent: number;
  replies: number;
  /** Messages the server answered nothing to (dropped, or lost in a kernel buffer). */
  noReply: number;
  rcodes: Record<string, number>;
  failures: Failure[];
}

export function emptyStats(): FuzzStats {
  return { sent: 0, replies: 0, noReply: 0, rcodes: {}, failures: [] };
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const MAX_FAILURES = 50;

function fail(stats: FuzzStats, f: Failure): void {
  if (stats.failures.length < MAX_FAILURES) stats.failures.push(f);
  else stats.failures[MAX_FAILURES - 1]!.why += ' (+ more failures)';
}

/** What is wrong with `reply` as the answer to `query`, or null when nothing is. */
export function checkReply(query: Buffer, reply: Buffer, udp: boolean): string | null {
  if (reply.length < 12) return `reply of ${reply.length} bytes, shorter than a header`;
  if (query.length < 2 || reply.readUInt16BE(0) !== query.readUInt16BE(0)) return `reply ID ${reply.readUInt16BE(0)} is not the query's`;
  if (!(reply[2]! & 0x80)) return 'QR clear in the reply';
  let p: dnsPacket.Packet;
  try {
    p = dnsPacket.decode(reply);
  } catch (e) {
    return `dns-packet cannot decode the reply: ${(e as Error).message}`;
  }
  const qd = reply.readUInt16BE(4);
  if (qd > 1) return `reply has QDCOUNT ${qd}`;
  if (qd === 1) {
    const re = questionEnd(reply);
    const qe = query.length >= 12 ? questionEnd(query) : -1;
    if (re < 0) return 'reply question runs past the reply';
    if (qe < 0 || !reply.subarray(12, re).equals(query.subarray(12, qe))) return 'reply question is not the query question';
  }
  if (udp && reply.length > 512 && !(p.additionals ?? []).some((a) => a.type === 'OPT')) {
    return `UDP reply of ${reply.length} bytes without EDNS`;
  }
  return null;
}

function countRcode(stats: FuzzStats, reply: Buffer): void {
  const rc = reply.length >= 4 ? reply[3]! & 0x0f : -1;
  const k = RCODES[rc] ?? `RCODE${rc}`;
  stats.rcodes[k] = (stats.rcodes[k] ?? 0) + 1;
}

export interface FuzzTarget {
  host: string;
  port: number;
  names: readonly string[];
  /** A known-good query (its ID is overwritten) and the check of its reply. */
  sentinel: Buffer;
  sentinelOk: (reply: Buffer) => string | null;
}

// ---------------------------------------------------------------------------------------------
// UDP

export async function fuzzUdp(t: FuzzTarget, r: Rng, count: number, stats: FuzzStats, batch = 200): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  sock.setRecvBufferSize(8 << 20);
  type Sent = { packet: Buffer; ops: string[] };
  let current = new Map<number, Sent>();
  let previous = new Map<number, Sent>(); // a late reply is still checked
  let sentinelWait: ((reply: Buffer) => void) | null = null;
  const sentinel = Buffer.from(t.sentinel);
  sentinel.writeUInt16BE(0, 0);
  sock.on('message', (m) => {
    const id = m.length >= 2 ? m.readUInt16BE(0) : -1;
    if (id === 0 && m.length >= 12 && m.subarray(12, sentinel.length).equals(sentinel.subarray(12)) && sentinelWait) {
      sentinelWait(m);
      return;
    }
    const s = current.get(id) ?? previous.get(id);
    if (!s) {
      fail(stats, { transport: 'udp', why: 'reply to no outstanding query (unknown ID or a second reply)', ops: [], query: '', reply: m.toString('hex') });
      return;
    }
    current.delete(id) || previous.delete(id);
    stats.replies++;
    countRcode(stats, m);
    const why = checkReply(s.packet, m, true);
    if (why) fail(stats, { transport: 'udp', why, ops: s.ops, query: s.packet.toString('hex'), reply: m.toString('hex') });
  });
  const send = (b: Buffer) => new Promise<void>((res, rej) => sock.send(b, t.port, t.host, (e) => (e ? rej(e) : res())));
  let id = 0;
  try {
    for (let done = 0; done < count; ) {
      const n = Math.min(batch, count - done);
      for (let i = 0; i < n; i++) {
        id = id >= 0xffff ? 1 : id + 1;
        const m = mutatedQuery(r, t.names);
        if (m.packet.length >= 2) m.packet.writeUInt16BE(id, 0);
        current.set(id, m);
        if (i === n - 1) await send(m.packet);
        else sock.send(m.packet, t.port, t.host);
      }
      stats.sent += n;
      done += n;
      // The sentinel closes the batch; resent if its reply is lost.
      let reply: Buffer | null = null;
      for (let attempt = 0; attempt < 5 && !reply; attempt++) {
        reply = await new Promise<Buffer | null>((res) => {
          const timer = setTimeout(() => res(null), 2000);
          sentinelWait = (b) => {
            clearTimeout(timer);
            res(b);
          };
          void send(sentinel);
        });
      }
      sentinelWait = null;
      if (!reply) throw new Error(`UDP ${t.host}:${t.port}: no answer to the known-good query after ${stats.sent} fuzz messages (server dead or wedged)`);
      const why = t.sentinelOk(reply);
      if (why) fail(stats, { transport: 'udp', why: `known-good query answered wrongly: ${why}`, ops: [], query: sentinel.toString('hex'), reply: reply.toString('hex') });
      stats.noReply += previous.size;
      previous = current;
      current = new Map();
    }
    await new Promise((res) => setTimeout(res, 50));
    stats.noReply += previous.size + current.size;
  } finally {
    sock.close();
  }
}

// ---------------------------------------------------------------------------------------------
// TCP

type Framing = 'one-write' | 'split' | 'lie';

/** The messages a server reading 2-byte length prefixes sees in `stream` (a partial last one is not). */
export function frames(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o + 2 <= stream.length) {
    const len = stream.readUInt16BE(o);
    if (o + 2 + len > stream.length) break;
    out.push(stream.subarray(o + 2, o + 2 + len));
    o += 2 + len;
  }
  return out;
}

interface Conn {
  stream: Buffer;
  chunks: Buffer[];
  ops: Map<Buffer, string[]>;
  framing: Framing;
}

function buildConn(t: FuzzTarget, r: Rng, n: number): Conn {
  const framing: Framing = r.pick(['one-write', 'one-write', 'split', 'lie']);
  const parts: Buffer[] = [];
  const msgs: { packet: Buffer; ops: string[] }[] = [];
  for (let i = 0; i < n; i++) {
    const m = mutatedQuery(r, t.names);
    if (m.packet.length >= 2) m.packet.writeUInt16BE((i + 1) & 0xffff, 0);
    msgs.push(m);
    const p = Buffer.alloc(2);
    p.writeUInt16BE(m.packet.length & 0xffff, 0);
    if (framing === 'lie' && r.chance(0.15)) {
      const lie = r.pick([0, 1, 2, 11, 12, 0xffff, m.packet.length + 1, Math.max(0, m.packet.length - 1), m.packet.length + 2 + r.int(40), r.int(0x10000)]);
      p.writeUInt16BE(lie & 0xffff, 0);
      m.ops.push(`TCP length prefix ${lie} for ${m.packet.length} bytes`);
    }
    parts.push(p, m.packet);
  }
  const stream = Buffer.concat(parts);
  let chunks = [stream];
  if (framing === 'split') {
    // Small segments, cut anywhere (also inside a length prefix); at most ~300 writes.
    const size = Math.max(r.pick([1, 2, 3, 7, 50, 300]), Math.ceil(stream.length / 300));
    chunks = [];
    for (let o = 0; o < stream.length; o += size) chunks.push(stream.subarray(o, o + size));
  }
  const ops = new Map<Buffer, string[]>();
  // Ops by message bytes, for failure reports (the framing may regroup bytes; then none).
  for (const m of msgs) ops.set(m.packet, m.ops);
  return { stream, chunks, ops, framing };
}

function opsOf(c: Conn, frame: Buffer): string[] {
  for (const [p, ops] of c.ops) if (p.equals(frame)) return [...ops, `framing ${c.framing}`];
  return [`framing ${c.framing}: bytes regrouped by a lying length prefix`];
}

/** Writes the stream, half-closes, collects the replies until the server closes. */
function exchange(t: FuzzTarget, c: Conn, timeoutMs: number): Promise<{ data: Buffer; timedOut: boolean }> {
  return new Promise((resolve) => {
    const sock = new Socket();
    sock.setNoDelay(true);
    const got: Buffer[] = [];
    let finished = false;
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(got), timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    sock.on('data', (d) => got.push(d));
    sock.on('error', () => finish(false)); // a reset ends the exchange; what came is checked
    sock.on('close', () => finish(false));
    sock.connect(t.port, t.host, async () => {
      for (const ch of c.chunks) {
        if (finished) return;
        sock.write(ch);
        if (c.chunks.length > 1) await new Promise((res) => setImmediate(res));
      }
      sock.end();
    });
  });
}

function checkConn(c: Conn, data: Buffer, timedOut: boolean, stats: FuzzStats): void {
  const seen = frames(c.stream);
  const replies = frames(data);
  const consumed = replies.reduce((s, x) => s + 2 + x.length, 0);
  if (consumed !== data.length && !timedOut) {
    fail(stats, { transport: 'tcp', why: `reply stream ends inside a message (${data.length - consumed} bytes left)`, ops: [`framing ${c.framing}`], query: '', reply: data.subarray(consumed).toString('hex') });
  }
  if (timedOut) {
    fail(stats, { transport: 'tcp', why: 'connection not closed by the server after the client half-closed', ops: [`framing ${c.framing}`], query: c.stream.subarray(0, 512).toString('hex') });
  }
  // Replies come in order: each must answer a message at or after the previous match.
  let cursor = 0;
  for (const rep of replies) {
    stats.replies++;
    countRcode(stats, rep);
    const id = rep.length >= 2 ? rep.readUInt16BE(0) : -1;
    let matched = -1;
    let why: string | null = `reply ID ${id} matches no message sent after the previous reply`;
    let whyAt = -1;
    for (let j = cursor; j < seen.length; j++) {
      const f = seen[j]!;
      if (f.length < 2 || f.readUInt16BE(0) !== id) continue;
      const w = checkReply(f, rep, false);
      if (w === null) {
        matched = j;
        break;
      }
      if (whyAt < 0) {
        why = w;
        whyAt = j;
      }
    }
    if (matched < 0) {
      const f = whyAt >= 0 ? seen[whyAt]! : Buffer.alloc(0);
      fail(stats, { transport: 'tcp', why: why!, ops: whyAt >= 0 ? opsOf(c, f) : [`framing ${c.framing}`], query: f.toString('hex'), reply: rep.toString('hex') });
      continue;
    }
    cursor = matched + 1;
  }
  stats.noReply += Math.max(0, seen.length - replies.length);
}

export async function fuzzTcp(t: FuzzTarget, r: Rng, count: number, stats: FuzzStats, opts: { perConn?: number; parallel?: number; timeoutMs?: number } = {}): Promise<void> {
  const perConn = opts.perConn ?? 100;
  const parallel = opts.parallel ?? 4;
  let left = count;
  const worker = async () => {
    while (left > 0) {
      const n = Math.min(left, 1 + r.int(perConn * 2));
      left -= n;
      const c = buildConn(t, r, n);
      stats.sent += n;
      const { data, timedOut } = await exchange(t, c, opts.timeoutMs ?? 15000);
      checkConn(c, data, timedOut, stats);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** A failure report: the seed first, so the run can be repeated. */
export function describeFailures(seed: number, stats: FuzzStats, max = 10): string {
  const lines = [`FUZZ_SEED=${seed} reproduces this run; ${stats.failures.length} failure(s):`];
  for (const f of stats.failures.slice(0, max)) {
    lines.push(`- ${f.transport}: ${f.why}\n  ops: ${f.ops.join('; ')}\n  query: ${f.query}\n  reply: ${f.reply ?? '-'}`);
  }
  return lines.join('\n');
}
