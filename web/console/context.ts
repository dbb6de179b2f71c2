// Builds what the console's routes and the API's session authentication share (ConsoleCtx).

import type { LocalStore } from '../../sync/local/store.ts';
import type { Explanation } from '../../sync/merge/explain.ts';
import { Sessions } from '../../sync/local/sessions.ts';
import { Users } from '../../sync/local/users.ts';
import type { ConsoleCtx } from '../session.ts';
import { QueryRate, type DashboardDeps } from './dashboard-data.ts';
import type { SourcesDeps } from '../routes/sources.ts';
import { FailureLog, LoginThrottle, type ThrottleOptions } from './throttle.ts';

export interface ConsoleOptions {
  /** web.tls */
  tls?: boolean;
  /** web.trust_proxy */
  trustProxy?: boolean;
  /** Session timeouts (defaults: 2 h idle, 12 h absolute). */
  idleMs?: number;
  absoluteMs?: number;
  throttle?: ThrottleOptions;
  /** Clock for sessions and throttling (tests). */
  now?: () => number;
  /** Login failures, at most one line per 10 s (with how many were left out). */
  logFailure?: (f: { user: string; client: string; throttled: boolean; suppressed: number }) => void;
  /** A session's last use could not be recorded (disk trouble); the request goes on. */
  onTouchError?: (e: unknown) => void;
  canWrite?: () => boolean;
  /** The verdict trace of a key (MergeService.explain, as GET /api/v1/explain/:key): the lookup page. */
  explain?: (key: string) => Explanation;
  /** What the Dashboard and Exemptions pages read (serve wires the /metrics and /readyz getters). */
  dashboard?: DashboardDeps;
  /** The Sources page (the same service as /api/v1/sources). */
  sources?: SourcesDeps;
}

/** What the console's pages get: the shared context, the local store (overrides, reports),
 *  explain and the dashboard's data. */
export interface ConsolePages extends ConsoleCtx {
  store: LocalStore;
  explain?: (key: string) => Explanation;
  dashboard?: DashboardDeps;
  /** Query rates from the DNS counters (the Dashboard and GET /api/v1/status). */
  rate?: QueryRate;
  sources?: SourcesDeps;
}

export function consoleContext(store: LocalStore, o: ConsoleOptions): ConsolePages {
  const now = o.now ?? Date.now;
  return {
    users: new Users(store.db, now),
    sessions: new Sessions(store.db, { idleMs: o.idleMs, absoluteMs: o.absoluteMs, now, onTouchError: o.onTouchError ?? (() => {}), canWrite: o.canWrite }),
    throttle: new LoginThrottle({ ...o.throttle, now }),
    failures: new FailureLog(o.logFailure ?? (() => {}), 10_000, now),
    tls: o.tls === true,
    trustProxy: o.trustProxy === true,
    store,
    explain: o.explain,
    dashboard: o.dashboard,
    rate: o.dashboard?.dns ? new QueryRate(o.dashboard.dns, o.dashboard.now) : undefined,
    sources: o.sources,
  };
}
