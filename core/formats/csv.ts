// CSV/TSV (abuse.ch and similar exports): the entry is one column, chosen by a 0-based index or
// by a header name (case-insensitive). The header may be a `#` comment line, as abuse.ch ships
// it (`# first_seen_utc,dst_ip,...`). Fields may be quoted ("..." with "" inside). With an index,
// a first data line whose column is not an entry is taken as a header row.

import { addName } from './domains.ts';
import { AddrToken, scanAddr } from './scan.ts';
import { eachLine, Sink } from './sink.ts';

/** Field bounds found by findField. */
const F = { s: 0, e: 0 };

/** Finds field `index` of the line [s, e) into F. Returns 0 when found, 1 when the line has fewer
 *  fields, 2 on an unterminated quote. Blanks around a field are dropped. */
function findField(b: Uint8Array, s: number, e: number, delim: number, index: number): number {
  let p = s;
  for (let k = 0; ; k++) {
    if (delim !== 32 && delim !== 9) while (p < e && (b[p] === 32 || b[p] === 9) && b[p] !== delim) p++;
    let fs: number;
    let fe: number;
    if (p < e && b[p] === 34) {
      fs = ++p;
      for (;;) {
        if (p >= e) return 2;
        if (b[p] === 34) {
          if (p + 1 < e && b[p + 1] === 34) p += 2;
          else break;
        } else p++;
      }
      fe = p++;
      while (p < e && b[p] !== delim) p++;
    } else {
      fs = p;
      while (p < e && b[p] !== delim) p++;
      fe = p;
      while (fe > fs && (b[fe - 1] === 32 || b[fe - 1] === 9)) fe--;
    }
    if (k === index) {
      F.s = fs;
      F.e = fe;
      return 0;
    }
    if (p >= e) return 1;
    p++; // the delimiter
  }
}

/** All fields of a line as lowercase strings (header rows only). */
function fieldNames(b: Uint8Array, s: number, e: number, delim: number): string[] {
  const out: string[] = [];
  for (let k = 0; ; k++) {
    if (findField(b, s, e, delim, k) !== 0) return out;
    out.push(Buffer.from(b.buffer, b.byteOffset + F.s, F.e - F.s).toString('utf8').trim().toLowerCase());
  }
}

export function parseCsv(b: Uint8Array, sink: Sink): void {
  const { column, kind } = sink.opts;
  const delim = (sink.opts.delimiter ?? ',').charCodeAt(0);
  if (column === undefined) throw new Error('format csv needs a column (index or header name)');
  // an all-digit string (e.g. from an environment override) is an index too
  const byName = typeof column === 'string' && !/^\d+$/.test(column.trim());
  const name = byName ? String(column).trim().toLowerCase() : '';
  let index = byName ? -1 : Number(column);
  let dataLines = 0;
  const t = new AddrToken();
  eachLine(b, sink, (s, e, line) => {
    let p = s;
    while (p < e && (b[p] === 32 || b[p] === 9)) p++;
    if (p >= e) return;
    if (b[p] === 35) {
      if (index < 0) {
        // a commented header row names the columns
        let q = p + 1;
        while (q < e && (b[q] === 32 || b[q] === 9)) q++;
        const i = fieldNames(b, q, e, delim).indexOf(name);
        if (i >= 0) index = i;
      }
      return;
    }
    dataLines++;
    if (index < 0) {
      const i = fieldNames(b, p, e, delim).indexOf(name);
      if (i >= 0) {
        index = i;
        return;
      }
      sink.errorAt(line, `no header row names the column "${column}"`, b, p, e);
      return;
    }
    const r = findField(b, p, e, delim, index);
    if (r !== 0) {
      sink.errorAt(line, r === 1 ? `no column ${index} on the line` : 'unterminated quote', b, p, e);
      return;
    }
    const fs = F.s;
    const fe = F.e;
    if (kind === 'domain') {
      const err = fs < fe ? addName(b, fs, fe, sink) : 'empty field';
      if (err) {
        if (!(dataLines === 1 && !byName)) sink.errorAt(line, `column ${index}: ${err}`, b, fs, fe);
      }
      return;
    }
    const ok = scanAddr(b, fs, fe, t);
    if (!ok || t.end !== fe) {
      // with an index, the first data row may be a title row
      if (dataLines === 1 && !byName) return;
      sink.errorAt(line, `column ${index}: not an IP address, CIDR or a-b range`, b, fs, fe);
      return;
    }
    sink.add(t, line, b, fs, fe);
  });
}
