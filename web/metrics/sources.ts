// Adapters from the sync state to the plain records web/metrics/collect.ts reads.

import type { SyncState } from '../../sync/state.ts';
import type { SourceMetrics } from './collect.ts';

/** The configured sources' sync state and failure counts, read now (two cheap queries). */
export function sourceMetricsOf(state: SyncState, names: readonly string[]): SourceMetrics[] {
  const known = new Map(state.listSources().map((s) => [s.name, s]));
  const fails = state.failureCounts();
  return names.map((name) => {
    const s = known.get(name);
    const f = fails.get(name);
    return {
      name,
      lastSuccess: s?.lastSuccess ?? null,
      lastAttempt: s?.lastAttempt ?? null,
      entries: s?.entries ?? null,
      failuresTotal: f?.total ?? 0,
      consecutiveFailures: f?.consecutive ?? 0,
      quarantined: s?.quarantine != null,
    };
  });
}
