// Per-thread CPU accounting from /proc, sampled while something runs: which thread of which
// process ate the CPU in a time window. Threads that exit between samples lose at most one
// sampling interval; per-process totals (which include exited threads) are exact.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { CLK_TCK, cpuTotals, processTree } from '../proc.ts';

/** Threads below this many CPU seconds are folded into one row per process. */
const MIN_ROW_SECONDS = 0.2;

interface ThreadInfo {
  proc: string; // label of the process
  pid: number;
  tid: number;
  nice: number;
  born: number; // epoch ms when first seen
}

interface Sample {
  t: number; // epoch ms
  ticks: Map<string, number>; // "pid/tid" -> utime+stime
  procTicks: Map<number, number>;
  busy: number; // box-wide busy jiffies
}

function taskStat(pid: number, tid: number): { ticks: number; nice: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after ')': state(3) ... utime(14) stime(15) ... nice(19) => f[11], f[12], f[16]
    return { ticks: Number(f[11]) + Number(f[12]), nice: Number(f[16]) };
  } catch {
    return null;
  }
}

function processTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

export interface ThreadCpu {
  proc: string;
  /** "main" (tid = pid), "thread TID (new)" for threads started inside the sampled span
   *  (worker threads), "thread TID"; Node 20 names all its threads "node", so names do not help. */
  thread: string;
  threads: number; // threads folded into this row
  cpuSeconds: number;
  cores: number; // cpuSeconds / window seconds
  nice: number;
}

export interface CpuProfile {
  seconds: number;
  threads: ThreadCpu[];
  processes: Array<{ proc: string; cpuSeconds: number; cores: number }>;
  /** Cores per process split by thread kind: the main thread, threads started inside the
   *  sampling (worker threads), and the rest (V8 GC/platform and libuv threads). */
  kinds: Record<string, { main: number; newThreads: number; otherThreads: number }>;
  /** CPU on the box not used by the watched processes (user+nice+system+steal; irq/softirq left out). */
  otherCores: number;
  boxBusyCores: number;
}

/** Samples the threads of the watched processes every `intervalMs` between start() and stop(). */
export class ThreadSampler {
  private readonly info = new Map<string, ThreadInfo>();
  private readonly procs = new Map<number, string>();
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  /** Renice threads of these processes that start after start() (see --nice in sync.ts). */
  private renice: { label: string; nice: number } | null = null;

  constructor(private readonly intervalMs = 100) {}

  watch(pid: number, label: string): void {
    this.procs.set(pid, label);
    this.roots.set(pid, label);
    if (this.startedAt) this.sample();
  }

  reniceNewThreads(label: string, nice: number): void {
    this.renice = { label, nice };
  }

  start(): void {
    this.startedAt = Date.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  private readonly roots = new Map<number, string>();

  /** Child processes (tsx's esbuild service, started again by each worker thread) count too. */
  private discoverChildren(): void {
    for (const [root, label] of this.roots) {
      for (const pid of processTree(root)) {
        if (this.procs.has(pid)) continue;
        let comm = '?';
        try {
          comm = readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
        } catch {
          continue;
        }
        this.procs.set(pid, `${label}/${comm}`);
      }
    }
  }

  private sample(): void {
    const now = Date.now();
    if (this.samples.length % 5 === 0) this.discoverChildren(); // a /proc scan: every 5th sample
    const s: Sample = { t: now, ticks: new Map(), procTicks: new Map(), busy: cpuTotals().busy };
    for (const [pid, label] of this.procs) {
      const pt = processTicks(pid);
      if (pt !== null) s.procTicks.set(pid, pt);
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const t of tids) {
        const tid = Number(t);
        const st = taskStat(pid, tid);
        if (!st) continue;
        const key = `${pid}/${tid}`;
        s.ticks.set(key, st.ticks);
        let inf = this.info.get(key);
        if (!inf) {
          inf = { proc: label, pid, tid, nice: st.nice, born: this.samples.length ? now : 0 };
          this.info.set(key, inf);
          if (this.renice && this.renice.label === label && inf.born && tid !== pid) {
            try {
              setPriority(tid, this.renice.nice); // Linux: a thread id sets that thread's nice value
            } catch {
              /* gone */
            }
          }
        }
        inf.nice = st.nice;
      }
    }
    this.samples.push(s);
  }

  /** CPU use per thread and process between two times (epoch ms), from the nearest samples. */
  profile(from: number, to: number): CpuProfile {
    const a = [...this.samples].reverse().find((x) => x.t <= from) ?? this.samples[0]!;
    const b = this.samples.find((x) => x.t >= to) ?? this.samples[this.samples.length - 1]!;
    const seconds = Math.max(0.001, (b.t - a.t) / 1000);
    const round = (x: number): number => Math.round(x * 100) / 100;
    // A thread's last value inside the span (it may have exited before b).
    const lastTicks = new Map<string, number>();
    for (const s of this.samples) {
      if (s.t < a.t || s.t > b.t) continue;
      for (const [k, v] of s.ticks) lastTicks.set(k, v);
    }
    const all = [...lastTicks]
      .map(([k, v]) => ({ inf: this.info.get(k)!, sec: (v - (a.ticks.get(k) ?? 0)) / CLK_TCK }))
      .filter((x) => x.sec > 0)
      .sort((x, y) => y.sec - x.sec);
    const kinds: CpuProfile['kinds'] = {};
    for (const { inf, sec } of all) {
      const k = (kinds[inf.proc] ??= { main: 0, newThreads: 0, otherThreads: 0 });
      if (inf.tid === inf.pid) k.main += sec / seconds;
      else if (inf.born > 0) k.newThreads += sec / seconds;
      else k.otherThreads += sec / seconds;
    }
    for (const k of Object.values(kinds)) for (const f of ['main', 'newThreads', 'otherThreads'] as const) k[f] = round(k[f]);
    const threads: ThreadCpu[] = [];
    const folded = new Map<string, ThreadCpu>();
    for (const { inf, sec } of all) {
      if (sec >= MIN_ROW_SECONDS || inf.tid === inf.pid) {
        const name = inf.tid === inf.pid ? 'main' : `thread ${inf.tid}${inf.born > 0 ? ' (new)' : ''}`;
        threads.push({ proc: inf.proc, thread: name, threads: 1, cpuSeconds: round(sec), cores: round(sec / seconds), nice: inf.nice });
        continue;
      }
      const row = folded.get(inf.proc) ?? { proc: inf.proc, thread: 'other threads', threads: 0, cpuSeconds: 0, cores: 0, nice: inf.nice };
      row.threads++;
      row.cpuSeconds += sec;
      folded.set(inf.proc, row);
    }
    for (const r of folded.values()) threads.push({ ...r, cpuSeconds: round(r.cpuSeconds), cores: round(r.cpuSeconds / seconds) });
    const byLabel = new Map<string, number>();
    for (const [pid, label] of this.procs) {
      let last: number | undefined;
      for (const s of this.samples) if (s.t >= a.t && s.t <= b.t && s.procTicks.has(pid)) last = s.procTicks.get(pid);
      if (last === undefined) continue;
      byLabel.set(label, (byLabel.get(label) ?? 0) + (last - (a.procTicks.get(pid) ?? 0)) / CLK_TCK);
    }
    const processes = [...byLabel].map(([proc, sec]) => ({ proc, cpuSeconds: round(sec), cores: round(sec / seconds) }));
    const watched = [...byLabel.values()].reduce((x, y) => x + y, 0);
    const busy = (b.busy - a.busy) / CLK_TCK;
    return { seconds: round(seconds), threads, processes, kinds, otherCores: round(Math.max(0, busy - watched) / seconds), boxBusyCores: round(busy / seconds) };
  }
}
