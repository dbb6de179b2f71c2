// dnsperf `-S 1` lines ("<epoch seconds>.<usec>: <qps>", printed at the end of each interval)
// and the qps of a time window computed from them.

export interface Interval {
  start: number; // epoch ms
  end: number;
  qps: number;
}

/** Intervals from dnsperf output. `startMs` is when dnsperf was started: the first interval
 *  begins there (at most 1 s before its end). dnsperf 2.10 sometimes prints a first line
 *  with a qps of ~0 (0.000045) whatever the server does (seen against rbldnsd too): a first
 *  line below 1 qps is dropped, and so is any stub shorter than 0.5 s. */
export function parseIntervals(text: string, startMs: number): Interval[] {
  const out: Interval[] = [];
  let prev = startMs;
  let first = true;
  for (const m of text.matchAll(/^(\d+\.\d+): ([\d.]+)$/gm)) {
    const end = Number(m[1]) * 1000;
    const start = Math.max(prev, end - 1000);
    prev = end;
    const stub = first && Number(m[2]) < 1;
    first = false;
    if (stub) continue;
    if (end - start >= 500) out.push({ start, end, qps: Number(m[2]) });
  }
  return out;
}

export interface WindowQps {
  /** Answered queries per second over the window (interval rates weighted by overlap). */
  qps: number;
  /** The slowest interval lying wholly inside the window (or the most-overlapping one when none does). */
  worst: Interval | null;
  intervals: Interval[]; // those overlapping the window
}

export function windowQps(all: Interval[], from: number, to: number): WindowQps {
  const overlap = (i: Interval): number => Math.max(0, Math.min(i.end, to) - Math.max(i.start, from));
  const inside = all.filter((i) => overlap(i) > 0);
  let answered = 0;
  let covered = 0;
  for (const i of inside) {
    const o = overlap(i);
    answered += (i.qps * o) / 1000;
    covered += o;
  }
  const whole = inside.filter((i) => i.start >= from - 1 && i.end <= to + 1);
  const pool = whole.length ? whole : inside.filter((i) => overlap(i) === Math.max(...inside.map(overlap)));
  const worst = pool.reduce<Interval | null>((w, i) => (w === null || i.qps < w.qps ? i : w), null);
  return { qps: covered > 0 ? answered / (covered / 1000) : 0, worst, intervals: inside };
}
