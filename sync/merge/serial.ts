// The SOA serial of bl/wl/dbl: it rises with every change of their content (a merge, an
// overlay or policy swap) and never goes backwards, also across a restart when the last
// serial is known (a secondary or a resolver compares serials; an older one looks like a
// rollback). Unix time keeps it near the clock; +1 covers several changes in one second.

/** The serial after `prev` (0 = none yet): max(unix seconds now, prev + 1), as uint32
 *  (unix time fits until 2106). At start pass the last serial served, if persisted. */
export function nextSerial(prev: number, nowSec: number = Math.floor(Date.now() / 1000)): number {
  const next = prev + 1;
  return (nowSec > next ? nowSec : next) >>> 0;
}
