// Spamhaus DROP NDJSON (drop_v4.json, drop_v6.json, asndrop.json): one JSON object per line.
// `cidr` lines are entries; ASN-DROP lines (`asn`, no cidr) are counted in meta.asns (they are
// not addresses); the `{"type":"metadata",...}` line's scalar fields go to meta. Unknown fields
// are ignored; a whole-file JSON array of the same objects is accepted too.

import { AddrToken, ERROR_TEXT, scanAddr } from './scan.ts';
import { bomLength, eachLine, Sink } from './sink.ts';

export function parseSpamhausDrop(b: Uint8Array, sink: Sink): void {
  const t = new AddrToken();
  let asns = 0;
  const one = (v: unknown, line: number, s: number, e: number): void => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      sink.errorAt(line, 'not a JSON object', b, s, e);
      return;
    }
    const o = v as Record<string, unknown>;
    if (o['type'] === 'metadata') {
      for (const [k, x] of Object.entries(o)) {
        if (k === 'type' || k === '__proto__') continue;
        if (typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))) sink.meta[k] = x;
      }
      return;
    }
    const cidr = o['cidr'];
    if (typeof cidr === 'string') {
      const cb = Buffer.from(cidr.trim(), 'latin1');
      const ok = scanAddr(cb, 0, cb.length, t);
      if (!ok || t.end !== cb.length) {
        sink.errorAt(line, `cidr field: ${ok ? 'unexpected text after the address' : ERROR_TEXT[t.error]}`, cb, 0, cb.length);
        return;
      }
      sink.add(t, line, cb, 0, cb.length);
      return;
    }
    const asn = o['asn'];
    if ((typeof asn === 'number' && Number.isInteger(asn)) || (typeof asn === 'string' && /^(AS)?\d+$/i.test(asn))) {
      asns++;
      return;
    }
    sink.errorAt(line, 'object without a cidr or asn field', b, s, e);
  };

  let p = bomLength(b);
  while (p < b.length && (b[p] === 32 || b[p] === 9 || b[p] === 10 || b[p] === 13)) p++;
  if (b[p] === 91 /* [ */) {
    // a JSON array: one parse; entries are numbered by their position, lines by the file
    sink.lines = countLines(b);
    let arr: unknown;
    try {
      arr = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8'));
    } catch (err) {
      sink.error(1, `invalid JSON array: ${(err as Error).message}`);
      return;
    }
    if (!Array.isArray(arr)) return;
    for (let i = 0; i < arr.length; i++) one(arr[i], i + 1, 0, 0);
  } else {
    eachLine(b, sink, (s, e, line) => {
      let q = s;
      while (q < e && (b[q] === 32 || b[q] === 9)) q++;
      if (q >= e) return;
      let v: unknown;
      try {
        v = JSON.parse(Buffer.from(b.buffer, b.byteOffset + q, e - q).toString('utf8'));
      } catch {
        sink.errorAt(line, 'invalid JSON', b, q, e);
        return;
      }
      one(v, line, q, e);
    });
  }
  sink.meta['asns'] = asns;
}

function countLines(b: Uint8Array): number {
  let n = 0;
  let p = 0;
  for (;;) {
    const q = b.indexOf(10, p);
    if (q < 0) break;
    n++;
    p = q + 1;
  }
  return p < b.length ? n + 1 : n;
}
