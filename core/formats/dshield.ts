// DShield block.txt: `#` comment lines (`# key: value` fields before the data go to meta), a
// `Start End Netblock ...` title row, then tab-separated rows: start, end, netblock bits,
// attacks, name, country, email. The entry is start/bits (host bits masked); when the bits
// column is missing or not a number, the start-end range is used instead.

import { AddrToken, ERROR_TEXT, scanAddr } from './scan.ts';
import { eachLine, headerField, Sink } from './sink.ts';

export function parseDshield(b: Uint8Array, sink: Sink): void {
  const t = new AddrToken();
  const f = new Int32Array(6); // [s, e) of the first three fields
  let header = true;
  eachLine(b, sink, (s, e, line) => {
    let p = s;
    while (p < e && (b[p] === 32 || b[p] === 9)) p++;
    if (p >= e) return;
    if (b[p] === 35) {
      if (header) headerField(b, p + 1, e, sink.meta);
      return;
    }
    // split on tabs (blanks too: hand-edited copies)
    let k = 0;
    while (k < 3 && p < e) {
      const fs = p;
      while (p < e && b[p] !== 9 && b[p] !== 32) p++;
      f[2 * k] = fs;
      f[2 * k + 1] = p;
      k++;
      while (p < e && (b[p] === 9 || b[p] === 32)) p++;
    }
    const s0 = f[0]!;
    const e0 = f[1]!;
    if (e0 - s0 === 5 && Buffer.from(b.buffer, b.byteOffset + s0, 5).toString('latin1').toLowerCase() === 'start') return; // title row
    header = false;
    if (!scanAddr(b, s0, e0, t) || t.end !== e0 || t.family !== 4 || t.width !== 32) {
      sink.errorAt(line, 'start column is not an IPv4 address', b, s, e);
      return;
    }
    const start = t.start4;
    let bits = -1;
    if (k >= 3) {
      bits = 0;
      for (let i = f[4]!; i < f[5]!; i++) {
        const d = b[i]! - 48;
        if (d < 0 || d > 9 || i - f[4]! > 1) {
          bits = -1;
          break;
        }
        bits = bits * 10 + d;
      }
      if (bits > 32) bits = -1;
    }
    if (bits >= 0) {
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      t.start4 = (start & mask) >>> 0;
      t.masked = t.start4 !== start;
      t.end4 = (t.start4 | ~mask) >>> 0;
      t.width = bits;
    } else {
      // no usable bits column: the start-end range
      if (k < 2 || !scanAddr(b, f[2]!, f[3]!, t) || t.end !== f[3] || t.family !== 4 || t.width !== 32) {
        sink.errorAt(line, 'neither a netblock size nor an end address', b, s, e);
        return;
      }
      const end = t.start4;
      if (end < start) {
        sink.errorAt(line, ERROR_TEXT[3]!, b, s, e);
        return;
      }
      t.start4 = start;
      t.end4 = end;
      t.masked = false;
      t.width = Math.clz32(end - start); // as scanAddr: 32 - ceil(log2(size))
    }
    sink.add(t, line, b, s, e);
  });
}
