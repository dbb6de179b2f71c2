// CIDR text -> address words for provider ranges. Provider feeds are small (hundreds of prefixes),
// so clarity beats speed here. Words: IPv4 = [uint32]; IPv6 = 4 big-endian uint32 words.

import { isIP } from 'node:net';
import { formatIp6 } from '../../core/ip6.ts';
import { bytes6 } from '../../core/ranges.ts';

export interface ParsedCidr {
  /** canonical text: network address (host bits cleared) / prefix */
  cidr: string;
  family: 4 | 6;
  prefix: number;
  start: number[];
  end: number[];
  /** the text had host bits set (they were cleared) */
  hostBits: boolean;
}

/** Parses `addr[/len]` (IPv4 or IPv6; a bare address is a /32 or /128). undefined when invalid. */
export function parseProviderCidr(text: string): ParsedCidr | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const lenText = slash < 0 ? undefined : t.slice(slash + 1);
  const family = isIP(addr);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefix = lenText === undefined ? max : Number(lenText);
  if (prefix > max) return undefined;
  const words = family === 4 ? [ip4Word(addr)] : ip6Words(addr);
  const start: number[] = [];
  const end: number[] = [];
  let hostBits = false;
  for (let w = 0; w < words.length; w++) {
    // bits of this word that belong to the network part
    const net = Math.max(0, Math.min(32, prefix - 32 * w));
    const hostMask = net === 32 ? 0 : net === 0 ? 0xffffffff : (0xffffffff >>> net) >>> 0;
    const v = words[w]!;
    if ((v & hostMask) >>> 0 !== 0) hostBits = true;
    start.push((v & ~hostMask) >>> 0);
    end.push((v | hostMask) >>> 0);
  }
  const base = family === 4 ? formatIp4(start[0]!) : formatIp6Words(start);
  return { cidr: `${base}/${prefix}`, family, prefix, start, end, hostBits };
}

function ip4Word(a: string): number {
  const o = a.split('.').map(Number);
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** Expands an address node:net already validated (handles `::` and a dotted IPv4 tail). */
function ip6Words(a: string): number[] {
  let text = a.toLowerCase();
  const pct = text.indexOf('%');
  if (pct >= 0) text = text.slice(0, pct);
  const groups: number[] = [];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v = ip4Word(g);
        out.push(v >>> 16, v & 0xffff);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    const head = parse(text.slice(0, dbl));
    const tail = parse(text.slice(dbl + 2));
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else groups.push(...parse(text));
  const words: number[] = [];
  for (let i = 0; i < 4; i++) words.push(((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0);
  return words;
}

export function formatIp4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 5952 text of 4 words: lowercase, the longest run (>= 2) of zero groups as `::`. */
export function formatIp6Words(w: readonly number[]): string {
  return formatIp6(bytes6(Uint32Array.from(w)));
}
