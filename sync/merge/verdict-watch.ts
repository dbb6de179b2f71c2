// Reputation scores decay with time, so a key's verdict can change with no event at all: a
// spammer's score falls below the bar, a ham report's credit wears off. quorumbl's own answers
// change at that moment (the score is decayed at every lookup); the SOA serial must change too,
// or secondaries (AXFR/IXFR) keep serving the old verdict. Every check re-evaluates each scored
// key and raises the view's serial when a verdict differs from the one the last check saw. A
// swap in between (a report, an override) raised it already, but a score may also have crossed
// the bar after that swap, so a change is always answered with a new serial: at worst one
// serial more than needed per check.

import type { MergeView } from './evaluate.ts';
import type { OverlayView } from './types.ts';
import type { Verdict } from './policy.ts';

/** The scored keys of an overlay (sync/local/overlay.ts ScoreIndex). */
export interface ScoredKeys {
  keys4(): Iterable<number>;
  keys6(): Iterable<Uint8Array>;
  domainNames(): Iterable<string>;
}

function sig(v: Verdict): string {
  return v.block ? `b${v.a.join(',')}` : `w${v.wl}`;
}

/** Milliseconds of evaluation per event-loop turn. */
const SLICE_MS = 4;

export class VerdictWatch {
  private seen = new Map<string, string>();
  private running = false;

  constructor(
    private readonly view: MergeView,
    private readonly scoresOf: (o: OverlayView | null) => ScoredKeys | null,
  ) {}

  /** Resolves true when a verdict changed without a swap (the serial was raised). */
  async check(): Promise<boolean> {
    if (this.running) return false;
    this.running = true;
    try {
      const view = this.view;
      const serialAtStart = view.serial;
      const frozen = view.frozen();
      const keys = this.scoresOf(frozen.overlay);
      const next = new Map<string, string>();
      let changed = false;
      let until = performance.now() + SLICE_MS;
      const note = async (k: string, v: Verdict): Promise<void> => {
        const s = sig(v);
        next.set(k, s);
        const before = this.seen.get(k);
        if (before !== undefined && before !== s) changed = true;
        if (performance.now() >= until) {
          await new Promise((r) => setImmediate(r));
          until = performance.now() + SLICE_MS;
        }
      };
      if (keys) {
        for (const ip of keys.keys4()) await note(`4${ip}`, frozen.eval4(ip));
        for (const ip of keys.keys6()) await note(`6${Buffer.from(ip).toString('hex')}`, frozen.eval6(ip));
        for (const d of keys.domainNames()) await note(`d${d}`, frozen.evalDomain(d.split('.')));
      }
      this.seen = next;
      // a swap during the check raised the serial after this state already
      if (!changed || view.serial !== serialAtStart) return false;
      view.bumpSerial();
      return true;
    } finally {
      this.running = false;
    }
  }
}
