// Runs a query list against the oracle and the candidate and reports readable differences.

import { mapLimit, rawProbe, UdpClient } from './client.ts';
import type { Q } from './corpus.ts';
import type { RawCase } from './malformed.ts';
import { buildQuery, className, normalize, parseHeader, typeName, type Normalized } from './wire.ts';

export interface Mismatch {
  what: string;
  ref: string[];
  ours: string[];
}

export function describe(q: Q): string {
  const f = q.flags ? ' ' + Object.entries(q.flags).map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`).join(',') : '';
  return `${q.name} ${className(q.qclass ?? 1)} ${typeName(q.qtype)}${f}`;
}

/** Presentation of a normalized reply, one fact per line, for diffing. */
export function lines(n: Normalized | null): string[] {
  if (!n) return ['(no reply)'];
  const h = n.header;
  const out = [`;; opcode=${h.opcode} rcode=${h.rcode} flags=[${h.flags}] qd/an/ns/ar=${h.counts}`, `;; question ${n.question}`];
  for (const r of n.answer) out.push(`AN ${r}`);
  for (const r of n.authority) out.push(`NS ${r}`);
  for (const r of n.additional) out.push(`AR ${r}`);
  if (n.undecodable) out.push(`;; undecodable ${n.undecodable}`);
  return out;
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Sends every query to both servers; a query with no reply from either after retries counts as "no reply". */
export async function compareQueries(refPort: number, oursPort: number, qs: readonly Q[]): Promise<{ mismatches: Mismatch[]; total: number }> {
  const ref = new UdpClient(refPort);
  const ours = new UdpClient(oursPort);
  try {
    const results = await mapLimit(qs, 16, async (q) => {
      const build = (id: number) => buildQuery(id, q.name, q.qtype, q.qclass ?? 1, q.flags ?? {});
      const [a, b] = await Promise.all([ref.exchange(build), ours.exchange(build)]);
      return { q, a: lines(a ? normalize(a) : null), b: lines(b ? normalize(b) : null) };
    });
    const mismatches = results.filter((r) => !same(r.a, r.b)).map((r) => ({ what: describe(r.q), ref: r.a, ours: r.b }));
    return { mismatches, total: qs.length };
  } finally {
    ref.close();
    ours.close();
  }
}

/** Header and question at byte level, then the records as for ordinary queries (compression aside). */
function rawLines(replies: Buffer[]): string[] {
  if (replies.length === 0) return ['(no reply)'];
  return replies.flatMap((b, i) => {
    const h = parseHeader(b);
    const n = normalize(b);
    return [
      `#${i} id=${h.id} header=${b.subarray(0, 12).toString('hex')} opcode=${h.opcode} rcode=${h.rcode} flags=[${h.flags}] qd/an/ns/ar=${h.counts}`,
      ...lines(n).slice(1).map((l) => `#${i} ${l}`),
    ];
  });
}

export async function compareRaw(refPort: number, oursPort: number, cases: readonly RawCase[]): Promise<{ mismatches: Mismatch[]; total: number }> {
  const mismatches: Mismatch[] = [];
  for (const c of cases) {
    const [a, b] = await Promise.all([rawProbe(refPort, c.packet), rawProbe(oursPort, c.packet)]);
    const la = rawLines(a);
    const lb = rawLines(b);
    if (!same(la, lb)) mismatches.push({ what: `${c.title} [${c.packet.toString('hex')}]`, ref: la, ours: lb });
  }
  return { mismatches, total: cases.length };
}

/** A short diff: lines only rbldnsd gave (-) and lines only we gave (+). */
export function formatMismatches(ms: readonly Mismatch[], refName: string, oursName: string, max = 15): string {
  const out: string[] = [`${ms.length} mismatch(es); first ${Math.min(max, ms.length)} (- ${refName}, + ${oursName}):`];
  for (const m of ms.slice(0, max)) {
    out.push(`* ${m.what}`);
    const setB = new Set(m.ours);
    const setA = new Set(m.ref);
    for (const l of m.ref) out.push(`${setB.has(l) ? ' ' : '-'} ${l}`);
    for (const l of m.ours) if (!setA.has(l)) out.push(`+ ${l}`);
  }
  return out.join('\n');
}
