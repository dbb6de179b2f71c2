// Domain lists: one name per line ('domains'), or hosts-file lines `0.0.0.0 name [name...]`
// ('hosts'). `*.x` means the subdomains of x only and `.x` means x and its subdomains (as in
// rbldnsd's dnset): '.x' yields both 'x' and '*.x'. Names are lowercased, a final dot dropped.

import { AddrToken, scanAddr } from './scan.ts';
import { eachLine, Sink } from './sink.ts';

/** Label bytes: letters, digits, '-', '_' (underscores appear in real lists). */
const LABEL = new Uint8Array(256);
for (let c = 48; c <= 57; c++) LABEL[c] = 1;
for (let c = 97; c <= 122; c++) LABEL[c] = LABEL[c - 32] = 1;
LABEL[45] = LABEL[95] = 1;

/** Checks the name in bytes [s, e); returns null when valid, else what is wrong. */
let HAS_UPPER = false; // set by checkName

function checkName(b: Uint8Array, s: number, e: number): string | null {
  if (e - s > 253) return 'name longer than 253 characters';
  HAS_UPPER = false;
  let label = 0;
  let digitsOnly = true;
  let labels = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 46) {
      if (label === 0) return 'empty label';
      label = 0;
      labels++;
      continue;
    }
    if (LABEL[c] !== 1) return 'invalid character in a domain name';
    if (c < 48 || c > 57) {
      digitsOnly = false;
      if (c >= 65 && c <= 90) HAS_UPPER = true;
    }
    if (++label > 63) return 'label longer than 63 characters';
  }
  if (label === 0) return 'empty label';
  if (digitsOnly && labels === 3) return 'an IP address, not a domain name';
  return null;
}

/** Adds the name in [s, e) (with its `*.` / `.` forms); returns null or the error text. Names in
 *  `skip` (hosts files' own names) are left out silently. */
export function addName(b: Uint8Array, s: number, e: number, sink: Sink, skip?: Set<string>): string | null {
  if (e > s && b[e - 1] === 46) e--; // absolute form `example.org.`
  let star = false;
  let dot = false;
  if (e - s > 2 && b[s] === 42 && b[s + 1] === 46) {
    star = true;
    s += 2;
  } else if (e - s > 1 && b[s] === 46) {
    dot = true;
    s += 1;
  }
  if (s >= e) return 'empty name';
  const err = checkName(b, s, e);
  if (err) return err;
  let name = latin1(b, s, e);
  if (HAS_UPPER) name = name.toLowerCase();
  if (skip !== undefined && !star && !dot && skip.has(name)) return null;
  if (star || dot) sink.addDomain('*.' + name);
  if (!star) sink.addDomain(name);
  sink.entries++;
  return null;
}

/** Text of bytes [s, e) (names are ASCII; latin1 keeps any other byte as one character). */
function latin1(b: Uint8Array, s: number, e: number): string {
  if (e - s <= 24) return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

function isBlank(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 13;
}

function isComment(c: number | undefined): boolean {
  return c === 35 || c === 59;
}

/** One name per line; `#` / `;` comments. */
export function parseDomains(b: Uint8Array, sink: Sink): void {
  eachLine(b, sink, (s, e, line) => {
    let p = s;
    while (p < e && isBlank(b[p])) p++;
    if (p >= e || isComment(b[p])) return;
    let q = p;
    while (q < e && !isBlank(b[q]) && !isComment(b[q])) q++;
    let r = q;
    while (r < e && isBlank(b[r])) r++;
    if (r < e && !isComment(b[r])) {
      sink.errorAt(line, 'more than one name on the line', b, p, e);
      return;
    }
    const err = addName(b, p, q, sink);
    if (err) sink.errorAt(line, err, b, p, q);
  });
}

/** Names a hosts file maps for the machine itself, not blocklist entries. */
const LOCAL_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
]);

/** Hosts-file lines: an address, then one or more names; `#` comments; localhost lines skipped. */
export function parseHosts(b: Uint8Array, sink: Sink): void {
  const t = new AddrToken();
  eachLine(b, sink, (s, e, line) => {
    let p = s;
    while (p < e && isBlank(b[p])) p++;
    if (p >= e || b[p] === 35) return;
    let q = p;
    while (q < e && !isBlank(b[q]) && b[q] !== 35) q++;
    // the address: a single IPv4/IPv6 address (a `%zone` suffix, as in `fe80::1%lo0`, is allowed)
    let a = q;
    for (let i = p; i < q; i++) if (b[i] === 37) a = i;
    if (!scanAddr(b, p, a, t) || t.end !== a || t.width !== (t.family === 4 ? 32 : 128)) {
      sink.errorAt(line, 'hosts line does not start with an IP address', b, p, e);
      return;
    }
    let names = 0;
    for (;;) {
      while (q < e && isBlank(b[q])) q++;
      if (q >= e || b[q] === 35) break;
      const ns = q;
      while (q < e && !isBlank(b[q]) && b[q] !== 35) q++;
      names++;
      if (q - ns === 7 && b[ns] === 48 && latin1(b, ns, q) === '0.0.0.0') continue; // `0.0.0.0 0.0.0.0`
      const err = addName(b, ns, q, sink, LOCAL_NAMES);
      if (err) sink.errorAt(line, err, b, ns, q);
    }
    if (names === 0) sink.errorAt(line, 'hosts line without a name', b, p, e);
  });
}
