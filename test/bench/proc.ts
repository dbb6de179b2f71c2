// Child-process bookkeeping for the bench: every server and dnsperf we start gets its own
// process group, and all groups are killed on exit, Ctrl-C or a crash.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();

export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  // detached => setsid(): the child leads a new process group we can kill as a whole.
  const child = spawn(cmd, args, { ...opts, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    /* already gone */
  }
}

/** SIGTERM the child's group, SIGKILL it after `graceMs`; resolves once the child has exited. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL'); // stray grandchildren
    return;
  }
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  killGroup(child, 'SIGKILL');
}

export function killAllNow(): void {
  for (const c of live) killGroup(c, 'SIGKILL');
  live.clear();
}

let installed = false;
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping servers\n`);
      killAllNow();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

// ---- /proc readers -------------------------------------------------------------------

export interface ProcInfo {
  pid: number;
  comm: string;
  rssKiB: number;
  hwmKiB: number;
  cpuTicks: number; // utime + stime, all threads
}

function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm may contain spaces/parens: fields start after the last ')'.
    const close = s.lastIndexOf(')');
    return [s.slice(s.indexOf('(') + 1, close), ...s.slice(close + 2).trim().split(' ')];
  } catch {
    return null;
  }
}

export function procInfo(pid: number): ProcInfo | null {
  const f = statFields(pid);
  if (!f) return null;
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  // f[0]=comm, f[1]=state (field 3), utime/stime are fields 14/15 => f[12]/f[13].
  return { pid, comm: f[0]!, rssKiB: kb('VmRSS'), hwmKiB: kb('VmHWM'), cpuTicks: Number(f[12]) + Number(f[13]) };
}

/** The process and all its descendants (by scanning /proc for ppid links). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (!f) continue;
    const ppid = Number(f[2]);
    const list = children.get(ppid) ?? [];
    list.push(Number(d));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

const SHELLS = new Set(['bash', 'sh', 'dash']);

/**
 * The server's real processes: the spawned pid and its descendants, minus shell launchers
 * (bin/quorumbl is a bash script; if it does not `exec` node, bash stays as the parent).
 */
export function serverProcesses(root: number): ProcInfo[] {
  return processTree(root)
    .map(procInfo)
    .filter((p): p is ProcInfo => p !== null && !SHELLS.has(p.comm));
}

export const CLK_TCK = 100; // Linux USER_HZ; constant on all mainstream kernels

/**
 * Busy and total jiffies over all CPUs, from /proc/stat. "Busy" is user+nice+system+steal:
 * irq/softirq are left out because loopback packet processing lands there (it is the
 * benchmark's own traffic, not another tenant's).
 */
export function cpuTotals(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already inside user
  const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[7] ?? 0);
  return { busy, total };
}
