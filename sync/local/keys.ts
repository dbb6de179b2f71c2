// Keys of overrides and reputation events: an IPv4/IPv6 address, a CIDR, a domain or a wildcard
// domain (`*.example.com`, strictly below example.com). Everything typed by a person or posted to
// the API passes through here, so errors say exactly what is wrong, and every accepted key has one
// canonical spelling (the DB's UNIQUE key and the audit log's target rely on it).
//
// Canonical forms: IPv4 `a.b.c.d` or `a.b.c.d/n` (n < 32), IPv6 compressed lowercase (`2001:db8::1`,
// `2001:db8::/32`), domains lowercase ASCII (IDN as punycode) without the trailing dot. A v4-mapped
// IPv6 key (`::ffff:1.2.3.4`, `::ffff:0:0/104`) becomes the IPv4 key: the DNS side looks such names
// up as IPv4 (core/query.ts).

import { domainToASCII } from 'node:url';
import { formatIp6, ip6HostBits } from '../../core/ip6.ts';
import { ip4ToString } from '../../core/query.ts';

export type KeyKind = 'ip4' | 'ip6' | 'domain' | 'wildcard';

export type ParsedKey =
  | { kind: 'ip4'; key: string; first: number; bits: number }
  | { kind: 'ip6'; key: string; addr: Uint8Array; bits: number }
  /** `name` is the domain itself; for a wildcard it is the base below which it applies. */
  | { kind: 'domain' | 'wildcard'; key: string; name: string };

/** A rejected value; `field` names the input field (the API reports it). */
export class InputError extends Error {
  constructor(message: string, readonly field: string) {
    super(message);
    this.name = 'InputError';
  }
}

export const MAX_KEY_LENGTH = 300;

export interface KeyRules {
  /** Accept CIDRs (overrides) or single addresses only (reputation). */
  cidr: boolean;
  /** Accept `*.domain`. */
  wildcard: boolean;
}

/** A value shown in an error: JSON-quoted (control characters escaped) and shortened. */
export function shown(v: string): string {
  return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
}

/** Parses and canonicalizes a key; throws InputError (field `field`) with the reason. */
export function parseKey(text: unknown, rules: KeyRules, field = 'key'): ParsedKey {
  if (typeof text !== 'string') throw new InputError(`${field} must be a string`, field);
  if (text.length > MAX_KEY_LENGTH) throw new InputError(`${field} is too long (${text.length} characters, at most ${MAX_KEY_LENGTH})`, field);
  const s = text.trim();
  if (s === '') throw new InputError(`${field} is empty`, field);
  if (hasControl(s) || /\s/.test(s)) throw new InputError(`${field} ${shown(s)} contains blanks or control characters`, field);
  const fail = (why: string): never => {
    throw new InputError(`${field} ${shown(s)}: ${why}`, field);
  };
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  let bits: number | undefined;
  if (slash >= 0) {
    const len = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len)) fail(`the prefix length after '/' must be a number`);
    bits = Number(len);
  }
  if (addr.includes(':')) {
    const bytes = parseIp6(addr) ?? fail(addr.includes('%') ? 'zone identifiers (%...) are not allowed' : 'not a valid IPv6 address');
    const b = bits ?? 128;
    if (b > 128) fail('an IPv6 prefix length is 0..128');
    if (b < 128 && !rules.cidr) fail('a single address is expected here, not a CIDR');
    if (ip6HostBits(bytes, b, false)) {
      ip6HostBits(bytes, b, true);
      fail(`host bits are set; the network is ${formatIp6(bytes)}/${b}`);
    }
    // v4-mapped (::ffff:0:0/96): the IPv4 key
    if (b >= 96 && bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
      const ip = ((bytes[12]! << 24) | (bytes[13]! << 16) | (bytes[14]! << 8) | bytes[15]!) >>> 0;
      return ip4Key(ip, b - 96);
    }
    return { kind: 'ip6', key: b === 128 ? formatIp6(bytes) : `${formatIp6(bytes)}/${b}`, addr: bytes, bits: b };
  }
  if (/^[\d.]+$/.test(addr)) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr) ?? fail('not a valid IPv4 address (four numbers 0..255 separated by dots)');
    let ip = 0;
    for (let i = 1; i <= 4; i++) {
      const o = m[i]!;
      if (o.length > 1 && o[0] === '0') fail('leading zeros in an IPv4 address are ambiguous (octal?)');
      const v = Number(o);
      if (v > 255) fail(`${o} is not an octet (0..255)`);
      ip = ip * 256 + v;
    }
    const b = bits ?? 32;
    if (b > 32) fail('an IPv4 prefix length is 0..32');
    if (b < 32 && !rules.cidr) fail('a single address is expected here, not a CIDR');
    const size = 2 ** (32 - b);
    if (ip % size !== 0) fail(`host bits are set; the network is ${ip4ToString(ip - (ip % size))}/${b}`);
    return ip4Key(ip, b);
  }
  if (bits !== undefined) fail('a prefix length only follows an IP address');
  let name = s;
  let wildcard = false;
  if (name.startsWith('*.')) {
    if (!rules.wildcard) fail('a wildcard is not allowed here (a single domain is expected)');
    wildcard = true;
    name = name.slice(2);
  }
  if (name.includes('*')) fail(`'*' may only stand alone as the first label ('*.example.com')`);
  const canonical = domainName(name, fail);
  return wildcard ? { kind: 'wildcard', key: `*.${canonical}`, name: canonical } : { kind: 'domain', key: canonical, name: canonical };
}

function ip4Key(ip: number, bits: number): ParsedKey {
  return { kind: 'ip4', key: bits === 32 ? ip4ToString(ip) : `${ip4ToString(ip)}/${bits}`, first: ip, bits };
}

/** Lowercase ASCII domain name, trailing dot removed; LDH labels (underscore allowed, as in
 *  `_spf` and many real spam hosts), 1..63 bytes each, 253 in all. */
function domainName(input: string, fail: (why: string) => never): string {
  let name = input.endsWith('.') ? input.slice(0, -1) : input;
  if (/[^\x20-\x7e]/.test(name)) {
    const ascii = domainToASCII(name);
    if (!ascii) fail('not a valid internationalized domain name');
    name = ascii;
  }
  name = name.toLowerCase();
  if (name === '') fail('not a domain name');
  if (name.length > 253) fail(`a domain name is at most 253 characters (this one has ${name.length})`);
  const labels = name.split('.');
  for (const l of labels) {
    if (l === '') fail('empty label (two dots in a row, or a leading dot)');
    if (l.length > 63) fail(`the label ${shown(l)} is longer than 63 characters`);
    if (!/^[a-z0-9_-]+$/.test(l)) fail(`the label ${shown(l)} has characters other than letters, digits, '-' and '_'`);
    if (l.startsWith('-') || l.endsWith('-')) fail(`the label ${shown(l)} starts or ends with '-'`);
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) fail('not a valid IP address, and a domain cannot end in an all-digit label');
  return name;
}

/** 16 bytes of a textual IPv6 address (with `::` and a trailing dotted IPv4), or null. */
export function parseIp6(s: string): Uint8Array | null {
  if (s.length > 45 || s.includes('%')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes('.')) {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(g);
        if (!m) return null;
        const o = m.slice(1).map(Number);
        if (o.some((x, k) => x > 255 || (m[k + 1]!.length > 1 && m[k + 1]![0] === '0'))) return null;
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  // an embedded IPv4 must be the last thing in the address
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const b = new Uint8Array(16);
  all.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 255;
  });
  return b;
}

/** C0/C1 controls, DEL, line/paragraph separators and bidi overrides: never stored in text a
 *  person will read later (terminal escapes, spoofed log lines, reversed text). */
export function hasControl(s: string): boolean {
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s);
}

/** Validates free text (reason, author, reporter, note): a string, 1..max characters, no controls. */
export function checkText(v: unknown, field: string, max: number, opts: { optional?: boolean } = {}): string | undefined {
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new InputError(`${field} is required`, field);
  }
  if (typeof v !== 'string') throw new InputError(`${field} must be a string`, field);
  const s = v.trim();
  if (s === '') {
    if (opts.optional) return undefined;
    throw new InputError(`${field} is empty`, field);
  }
  if (s.length > max) throw new InputError(`${field} is too long (${s.length} characters, at most ${max})`, field);
  if (hasControl(s)) throw new InputError(`${field} contains control characters (newlines, escapes, bidi overrides are not allowed)`, field);
  return s;
}
