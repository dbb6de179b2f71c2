// The SOA serial of bl/wl/dbl: it rises with every change of their content (a merge, an
// overlay or policy swap) and never goes backwards, also across a restart when the last
// serial is known (a secondary or a resolver compares serials; an older one looks like a
// rollback). Unix time keeps it near the clock; +1 covers several changes in one second.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The serial after `prev` (0 = none yet): max(unix seconds now, prev + 1), as uint32
 *  (unix time fits until 2106). At start pass the last serial served, if persisted. */
export function nextSerial(prev: number, nowSec: number = Math.floor(Date.now() / 1000)): number {
  const next = prev + 1;
  return (nowSec > next ? nowSec : next) >>> 0;
}

/** Where serve keeps a serial that ran ahead of the clock (`<state_dir>/merge/serial`). */
export function serialPath(stateDir: string): string {
  return join(stateDir, 'merge', 'serial');
}

/** The serial kept by `keepSerial`, or 0 (none, unreadable: the clock is then the floor). */
export function readKeptSerial(stateDir: string): number {
  try {
    const n = Number(readFileSync(serialPath(stateDir), 'utf8').trim());
    return Number.isInteger(n) && n > 0 && n <= 0xffffffff ? n : 0;
  } catch {
    return 0;
  }
}

/** A MergeView.onSerial that writes a serial to disk while it is ahead of the clock (many
 *  changes in a few seconds): only then could a restart, starting from max(now, kept), serve an
 *  older serial, which a secondary takes for a rollback and ignores. Once the clock passes it,
 *  nothing is written. A failed write (full or read-only disk) is logged once and costs nothing
 *  else: answers never depend on it. */
export function keepSerial(stateDir: string, warn: (msg: string, err: unknown) => void): (serial: number) => void {
  const file = serialPath(stateDir);
  let warned = false;
  return (serial) => {
    if (serial <= Math.floor(Date.now() / 1000)) return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file + '.tmp', String(serial));
      renameSync(file + '.tmp', file);
      warned = false;
    } catch (err) {
      if (!warned) warn('the SOA serial ran ahead of the clock and could not be kept on disk: a restart within seconds may serve an older serial', err);
      warned = true;
    }
  };
}
