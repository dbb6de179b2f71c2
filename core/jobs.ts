// Background jobs (scheduled syncs, provider refreshes, merges, file checks, overlay reloads,
// signal handlers) run through runJob(): a failure is caught, logged and counted, never thrown
// into a timer or an unawaited promise where it would end the process. The counters are one
// process-wide registry; jobsHealth() returns them as JSON for a health endpoint.
//
// installProcessGuards() is the last line for `serve` and the rbldnsd drop-in: an unhandled
// rejection is logged and counted and the process keeps answering DNS. An uncaught exception is
// a programming error whose state we cannot know: it is logged (fatal) and counted, and the
// process keeps serving - the data it answers from is immutable and swapped atomically, so a
// half-done background step leaves stale data, not wrong data - unless such errors come in a
// burst (a loop failing), where it exits with 70 so a supervisor restarts it from snapshots.

import type { Logger } from './log.ts';

export interface JobStats {
  runs: number;
  failures: number;
  /** Runs in progress now. */
  running: number;
  lastStart: number | null;
  lastSuccess: number | null;
  lastFailure: number | null;
  lastError: string | null;
  /** Duration of the last finished run, ms. */
  lastMs: number | null;
}

/** A job that did its work but failed (an upstream down): counted, not logged again. */
export interface SoftFailure {
  failed: string;
}

type Sink = Pick<Logger, 'error' | 'fatal'>;

const stats = new Map<string, JobStats>();
let sink: Sink | undefined;
let now: () => number = Date.now;

/** Where job failures are logged (the serve logger); until set, to stderr. */
export function setJobLogger(log: Sink | undefined): void {
  sink = log;
}

/** Tests: a fake clock; resetJobs() forgets every counter. */
export function setJobClock(f: () => number): void {
  now = f;
}

export function resetJobs(): void {
  stats.clear();
}

function entry(name: string): JobStats {
  let s = stats.get(name);
  if (!s) {
    s = { runs: 0, failures: 0, running: 0, lastStart: null, lastSuccess: null, lastFailure: null, lastError: null, lastMs: null };
    stats.set(name, s);
  }
  return s;
}

function text(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function logError(obj: Record<string, unknown>, msg: string, fatal = false): void {
  if (sink) (fatal ? sink.fatal : sink.error).call(sink, obj, msg);
  else process.stderr.write(`${msg}: ${JSON.stringify(obj)}\n`);
}

/** Counts a failure of `name` that was handled where it happened (a merge that keeps the
 *  previous evidence); `log`: also log it here. */
export function jobFailed(name: string, err: unknown, log = false): void {
  const s = entry(name);
  s.failures++;
  s.lastFailure = now();
  s.lastError = text(err);
  if (log) logError({ job: name, err: s.lastError, stack: err instanceof Error ? err.stack : undefined }, 'background job failed');
}

/** Runs one background job: never throws, never rejects. A throw or rejection is logged and
 *  counted; a returned SoftFailure is counted only (the job logged it). A failure counted with
 *  jobFailed() during the run also means the run did not succeed. */
export async function runJob(name: string, fn: () => unknown): Promise<void> {
  const s = entry(name);
  s.runs++;
  s.running++;
  const started = now();
  s.lastStart = started;
  const failuresBefore = s.failures;
  try {
    const r = await fn();
    if (r && typeof r === 'object' && typeof (r as SoftFailure).failed === 'string') jobFailed(name, (r as SoftFailure).failed);
  } catch (err) {
    jobFailed(name, err, true);
  } finally {
    s.running--;
    s.lastMs = now() - started;
    if (s.failures === failuresBefore) s.lastSuccess = now();
  }
}

/** A callback for a timer, an event or a signal that runs `fn` as the job `name`. */
export function job(name: string, fn: () => unknown): () => void {
  return () => void runJob(name, fn);
}

export interface JobsHealth {
  jobs: Record<string, Omit<JobStats, 'lastStart' | 'lastSuccess' | 'lastFailure'> & { lastStart: string | null; lastSuccess: string | null; lastFailure: string | null }>;
  /** Sum of failures over all jobs (process guards included). */
  failures: number;
}

/** Every job's counters, times as ISO strings: the health endpoint's "jobs" part. */
export function jobsHealth(): JobsHealth {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const jobs: JobsHealth['jobs'] = {};
  let failures = 0;
  for (const [name, s] of [...stats].sort(([a], [b]) => a.localeCompare(b))) {
    jobs[name] = { ...s, lastStart: iso(s.lastStart), lastSuccess: iso(s.lastSuccess), lastFailure: iso(s.lastFailure) };
    failures += s.failures;
  }
  return { jobs, failures };
}

/** The counters of one job (tests, logs). */
export function jobStats(name: string): JobStats | undefined {
  const s = stats.get(name);
  return s && { ...s };
}

export const UNHANDLED_REJECTION = 'process:unhandled-rejection';
export const UNCAUGHT_EXCEPTION = 'process:uncaught-exception';

export interface GuardOptions {
  /** More uncaught exceptions than this within burstWindowMs exit the process (code 70). */
  burstLimit?: number;
  burstWindowMs?: number;
  exit?: (code: number) => void;
}

let installed: { rejection: (r: unknown) => void; exception: (e: Error) => void } | undefined;

/** The process-level policy of a long-running server (see the top of this file). Idempotent. */
export function installProcessGuards(opts: GuardOptions = {}): void {
  if (installed) return;
  const limit = opts.burstLimit ?? 10;
  const windowMs = opts.burstWindowMs ?? 60_000;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const recent: number[] = [];
  installed = {
    rejection(reason) {
      entry(UNHANDLED_REJECTION).runs++;
      jobFailed(UNHANDLED_REJECTION, reason);
      logError({ err: text(reason), stack: reason instanceof Error ? reason.stack : undefined, count: entry(UNHANDLED_REJECTION).failures },
        'unhandled promise rejection (a bug: a background step failed without a handler); DNS keeps answering');
    },
    exception(err) {
      entry(UNCAUGHT_EXCEPTION).runs++;
      jobFailed(UNCAUGHT_EXCEPTION, err);
      const t = now();
      recent.push(t);
      while (recent.length && recent[0]! <= t - windowMs) recent.shift();
      const burst = recent.length > limit;
      logError({ err: text(err), stack: err?.stack, count: entry(UNCAUGHT_EXCEPTION).failures, inLastMinute: recent.length },
        burst ? `uncaught exceptions in a burst (more than ${limit} within ${windowMs / 1000} s): exiting (70) for a restart from snapshots`
          : 'uncaught exception (a bug); DNS keeps answering', true);
      if (burst) exit(70);
    },
  };
  process.on('unhandledRejection', installed.rejection);
  process.on('uncaughtException', installed.exception);
}

/** Tests: removes the handlers installProcessGuards() added. */
export function removeProcessGuards(): void {
  if (!installed) return;
  process.off('unhandledRejection', installed.rejection);
  process.off('uncaughtException', installed.exception);
  installed = undefined;
}
