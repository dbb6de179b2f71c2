// allowQuery: which clients may query at all (others get REFUSED). Matching uses node's
// BlockList; results are memoized per client address string because resolvers repeat.

import { BlockList } from 'node:net';
import { parseCidr } from '../core/cidr.ts';

const CACHE_MAX = 10_000;

export class ClientAcl {
  private readonly list = new BlockList();
  private readonly cache = new Map<string, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (!c) throw new Error(`allowQuery: invalid address or CIDR "${text}"`);
      const type = c.family === 4 ? 'ipv4' : 'ipv6';
      this.list.addSubnet(c.address, c.prefix, type);
      // An IPv4 client on an IPv6 socket shows up as ::ffff:a.b.c.d.
      if (c.family === 4) this.list.addSubnet(`::ffff:${c.address}`, 96 + c.prefix, 'ipv6');
    }
  }

  allows(address: string): boolean {
    let ok = this.cache.get(address);
    if (ok === undefined) {
      ok = this.list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(address, ok);
    }
    return ok;
  }
}
