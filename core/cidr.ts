// Minimal CIDR validation for config values (the server's ACL does its own fast matching).

import { isIP } from 'node:net';

export interface Cidr {
  address: string;
  family: 4 | 6;
  prefix: number;
}

/** Parses `addr/len` or a bare address (full length). Returns undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, len, extra] = text.trim().split('/');
  if (extra !== undefined || !address) return undefined;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) return undefined;
  return { address, family, prefix };
}
