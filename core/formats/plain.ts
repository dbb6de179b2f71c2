// Plain address lists (blocklist.de, PSBL, Spamhaus drop.txt, FireHOL netsets): one address,
// CIDR or a-b range per line; `#` and `;` start comments (whole-line or trailing); blank lines
// and CRLF line ends are fine. This is the hot path: one pass over the bytes, no strings.

import { AddrToken, scanAddr } from './scan.ts';
import { bomLength, headerField, Sink } from './sink.ts';

/** With headerMeta (netsets), `# Key : value` comment lines before the first entry go to meta. */
export function parsePlain(b: Uint8Array, sink: Sink, headerMeta = false): void {
  const n = b.length;
  const t = new AddrToken();
  let p = bomLength(b);
  let line = 0;
  let header = headerMeta;
  while (p < n) {
    line++;
    let c = b[p];
    while (c === 32 || c === 9 || c === 13) c = b[++p];
    if (c === 10) {
      p++;
      continue;
    }
    if (p >= n) break;
    if (c === 35 || c === 59) {
      const s = p + 1;
      while (p < n && b[p] !== 10) p++;
      if (header) headerField(b, s, p > s && b[p - 1] === 13 ? p - 1 : p, sink.meta);
      p++;
      continue;
    }
    const s = p;
    if (scanAddr(b, p, n, t)) {
      let q = t.end;
      c = b[q];
      while (c === 32 || c === 9 || c === 13) c = b[++q];
      if (q >= n || c === 10 || c === 35 || c === 59) {
        header = false;
        if (c === 35 || c === 59) while (q < n && b[q] !== 10) q++;
        sink.add(t, line, b, s, t.end);
        p = q + 1;
        continue;
      }
      while (p < n && b[p] !== 10) p++;
      sink.tokenError(line, t, true, b, s, p);
    } else {
      while (p < n && b[p] !== 10) p++;
      sink.tokenError(line, t, false, b, s, p);
    }
    header = false;
    p++;
  }
  sink.lines = line;
}
