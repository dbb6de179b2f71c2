// SOA serial arithmetic (RFC 1982, SERIAL_BITS 32): a > b when a is ahead of b by less than 2^31.

const HALF = 0x80000000;

/** True when serial `a` is newer than `b`. Equal, or exactly 2^31 apart: false. */
export function serialGt(a: number, b: number): boolean {
  a >>>= 0;
  b >>>= 0;
  return (a < b && b - a > HALF) || (a > b && a - b < HALF);
}

/** True when `a` is the same serial as `b` or newer. */
export function serialGe(a: number, b: number): boolean {
  return (a >>> 0) === (b >>> 0) || serialGt(a, b);
}
