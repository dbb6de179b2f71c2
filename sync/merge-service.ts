// Runs the merge for `serve`: the sources' current data (already loaded for their mirror zones)
// and the provider ranges are swept into evidence in a worker thread, and bl/wl/dbl answer from
// it through one MergeView. A new sync or provider update triggers a rebuild (debounced); the
// overlay (overrides, reputation) and the policy are swapped in place without one.
// Every merge's evidence is persisted (merge/persist.ts); a restart loads it before the
// listeners open, so bl/wl/dbl answer correctly from the first packet, and merges afterwards.

import type { Logger } from '../core/log.ts';
import { job, jobFailed } from '../core/jobs.ts';
import type { Config } from '../core/config/schema.ts';
import type { Dataset, NsSet, Soa } from '../core/datasets/types.ts';
import { emptyRangeSet4, emptyRangeSet6 } from '../core/ranges.ts';
import { mergedDatasets, type MergedKind } from './merge/datasets.ts';
import type { DatasetSpec } from '../core/zones/spec.ts';
import type { LoadedZone, ZoneStore } from '../core/zones/store.ts';
import { createHash } from 'node:crypto';
import { buildEvidenceInWorker, retireEvidence } from './merge/build.ts';
import { evidencePath, readEvidenceFile, removeLeftovers, writeEvidenceFile } from './merge/persist.ts';
import type { Evidence } from './merge/types.ts';
import { emptyEvidence } from './merge/evidence.ts';
import { MergeView } from './merge/evaluate.ts';
import { keepSerial, nextSerial, readKeptSerial } from './merge/serial.ts';
import { VerdictWatch, type ScoredKeys } from './merge/verdict-watch.ts';
import { explain, type ExplainContext, type ExplainProvider, type ExplainSource, type Explanation, type ReputationEvent, type KeyKind } from './merge/explain.ts';
import { weightsFor, type Policy } from './merge/policy.ts';
import type { EvidenceProvider, EvidenceSource, OverlayView } from './merge/types.ts';
import { ProviderFeeds } from './providers/feeds.ts';
import type { FeedState } from './providers/status.ts';
import type { ProviderRange } from './providers/types.ts';
import type { SyncState } from './state.ts';
import { CollisionTracker, type CollisionReport } from './collisions-store.ts';
import type { Db } from '../core/db.ts';

/** coverage() of an rbldnsd dataset walks all its entries (about 1 s for 10M) on this thread:
 *  once per loaded dataset, not at every merge. (Non-rbldnsd sources return their ranges as is.) */
const coverageMemo = new WeakMap<Dataset, ReturnType<NonNullable<Dataset['coverage']>> | undefined>();
function coverageOf(d: Dataset): ReturnType<NonNullable<Dataset['coverage']>> | undefined {
  if (!coverageMemo.has(d)) coverageMemo.set(d, d.coverage?.());
  return coverageMemo.get(d);
}

export function policyOf(c: Config, sourceNames: string[]): Policy {
  const byName = Object.fromEntries(c.sources.map((s) => [s.name, s.weight]));
  return {
    threshold: c.policy.threshold,
    consensus: c.policy.consensus,
    providerExempt: c.policy.provider_exempt,
    providerBar: c.policy.provider_bar,
    reputationBar: c.policy.reputation.bar,
    protectedDomains: c.policy.protected_domains,
    weights: sourceNames.map((n) => byName[n] ?? 1),
  };
}

export interface MergeServiceOptions {
  config: Config;
  stateDir: string;
  store: ZoneStore;
  /** The mirror dataset spec of each source (its loaded data feeds the merge). */
  sourceSpecs: Map<string, DatasetSpec>;
  state: SyncState;
  log: Logger;
  soa: Soa;
  ns: NsSet;
  /** Recent reputation events of a key, for explain. */
  events?: (key: string, kind: KeyKind) => ReputationEvent[];
  /** The last SOA serial served before a restart (persisted), so the serial never goes back. */
  lastSerial?: number;
  /** Save every merge's evidence for the next start (serve only: a CLI merge, e.g. explain's,
   *  must not write the file a running serve restarts from). */
  persist?: boolean;
}

/** How often scored keys are re-evaluated for decay (merge/verdict-watch.ts): a verdict that
 *  decay changes gets its new serial (and NOTIFY) within this time. */
export const VERDICT_WATCH_MS = 60_000;

export class MergeService {
  readonly view: MergeView;
  private datasets: Dataset[];
  /** The zones answer from real evidence (restored or merged); until then SERVFAIL, never a
   *  wrong NXDOMAIN for a listed key. */
  private ready = false;
  private published = false;
  /** The inputs key of the restored evidence (a restart merge with the same inputs is skipped). */
  private restoredInputs: string | null = null;
  /** Explain's sources and providers are out of date (restored evidence, merge skipped). */
  private explainStale = true;
  private readonly evidenceFile: string;
  private feeds: ProviderFeeds;
  private explainSources: ExplainSource[] = [];
  private explainProviders: ExplainProvider[] = [];
  private timer: NodeJS.Timeout | undefined;
  private building: Promise<boolean> | null = null;
  private again = false;
  /** When this process last finished a merge (ms), for /metrics. */
  private lastMergeAt: number | null = null;
  /** A merge has succeeded (later ones are paced). */
  private merged = false;
  /** What the last successful merge was built from (see inputsKey). */
  private lastInputs: readonly unknown[] | null = null;
  /** Recent reputation events of a key, for explain (set by the owner of the local store). */
  events?: (key: string, kind: KeyKind) => ReputationEvent[];
  /** Listed keys inside provider ranges, after every merge (sync/collisions-store.ts). */
  private readonly collisions: CollisionTracker;
  private collisionsOn = false;
  /** Raises the serial when a decaying score changes a verdict (merge/verdict-watch.ts). */
  private readonly watch: VerdictWatch;
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(private opts: MergeServiceOptions) {
    const c = opts.config;
    this.view = new MergeView(emptyEvidence(), policyOf(c, []));
    // The SOA serial is the view's, which rises with every merge and overlay/policy swap (the
    // responder writes it into each SOA). It starts at max(now, lastSerial + 1, the SOA's own).
    // The SOA minimum is the negative TTL (RFC 2308: min(SOA TTL, MINIMUM)).
    this.view.serial = nextSerial(Math.max(opts.lastSerial ?? 0, opts.persist ? readKeptSerial(opts.stateDir) : 0, opts.soa.serial - 1));
    if (opts.persist) this.view.onSerial = keepSerial(opts.stateDir, (msg, err) => opts.log.warn({ err: (err as Error).message }, msg));
    this.datasets = this.makeDatasets();
    this.evidenceFile = evidencePath(opts.stateDir);
    // Provider feeds: last good copy, else the shipped baseline (sync/providers/feeds.ts).
    this.feeds = new ProviderFeeds(c.providers, { stateDir: opts.stateDir, log: opts.log, onChange: () => this.schedule() });
    this.collisions = new CollisionTracker({ stateDir: opts.stateDir, log: opts.log });
    this.watch = new VerdictWatch(this.view, (o) => (o as { scores?: ScoredKeys } | null)?.scores ?? null);
  }

  /** One look at the scored keys now (serve runs it every VERDICT_WATCH_MS; tests call it). */
  async checkDecay(): Promise<boolean> {
    const raised = await this.watch.check();
    if (raised) this.opts.log.info({ serial: this.view.serial }, 'a decayed reputation score changed a verdict: SOA serial raised');
    return raised;
  }

  /** bl/wl/dbl over the view, with the TXT, TTLs and SOA of the config. */
  private makeDatasets(): Dataset[] {
    const { config: c, soa, ns } = this.opts;
    const ds = mergedDatasets(this.view, { base: c.base, lookupUrl: c.policy.lookup_url, ttl: c.policy.ttl, meta: { soa: { ...soa, minimum: c.policy.negative_ttl }, ns } });
    return (['bl', 'wl', 'dbl'] as MergedKind[]).map((k) => ds[k] as Dataset);
  }

  /** A config reload (serve): the policy (threshold, weights, TTLs, lookup_url, SOA) is swapped
   *  in at once without a merge; sources and provider feeds as configured now, then a merge,
   *  skipped when its inputs did not change. Resolves false when that merge failed: the
   *  evidence in force keeps answering. */
  async reconfigure(next: Pick<MergeServiceOptions, 'config' | 'sourceSpecs' | 'state' | 'soa' | 'ns'>): Promise<boolean> {
    const feedsChanged = JSON.stringify(next.config.providers) !== JSON.stringify(this.opts.config.providers) || next.config.sync.enabled !== this.opts.config.sync.enabled;
    // a merge running now was built from the old inputs: the one that follows uses the new
    while (this.building) await this.building;
    this.opts = { ...this.opts, ...next };
    const c = next.config;
    this.datasets = this.makeDatasets();
    const e = this.view.evidence;
    this.view.setPolicy({ ...policyOf(c, e.sourceNames), weights: weightsFor(e, Object.fromEntries(c.sources.map((s) => [s.name, s.weight]))) });
    this.explainStale = true;
    if (this.published) this.publish();
    if (feedsChanged) {
      this.feeds.stop();
      this.feeds = new ProviderFeeds(c.providers, { stateDir: this.opts.stateDir, log: this.opts.log, onChange: () => this.schedule() });
      await this.feeds.start(c.sync.enabled);
    }
    return this.rebuild();
  }

  /** Turns collisions on (serve), with the state database for their history and rise alerts.
   *  Off by default: a one-shot merge (`quorumbl explain`) must not replace serve's result. */
  useCollisionHistory(db: Db): void {
    this.collisions.attachDb(db);
    this.collisionsOn = true;
  }

  /** The latest collisions (GET /api/v1/collisions); null before the first merge. */
  collisionReport(): CollisionReport | null {
    return this.collisions.current();
  }

  /** Per source x provider feed counts (/metrics). */
  collisionCounts(): { source: string; provider: string; keys: number; ranges: number }[] {
    return this.collisions.counts();
  }

  /** Collisions of the evidence in force, computed on this thread in slices (O(m log n + hits)
   *  per pair, see sync/merge/collisions.ts); a failure costs the counts, never the merge. */
  private async updateCollisions(sources: EvidenceSource[], providers: ExplainProvider[], serial: number): Promise<void> {
    if (!this.collisionsOn) return;
    try {
      await this.collisions.update(sources, providers, serial);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'collisions not computed');
    }
  }

  /** bl/wl/dbl answer from evidence (restored or merged); false: SERVFAIL. */
  get isReady(): boolean {
    return this.ready;
  }

  /** For /metrics: the evidence in use (serial, when it was built, intervals), the SOA serial
   *  of bl/wl/dbl, and when this process last finished a merge (null: none yet). */
  get status(): { ready: boolean; evidenceSerial: number; builtAt: number; intervals4: number; intervals6: number; domains: number; soaSerial: number; lastMergeAt: number | null } {
    const e = this.view.evidence;
    return { ready: this.ready, evidenceSerial: e.serial, builtAt: e.builtAt, intervals4: e.cls4.length, intervals6: e.cls6.length, domains: e.domains.length, soaSerial: this.view.serial, lastMergeAt: this.lastMergeAt };
  }

  /** Provider feed state for `GET /api/v1/providers`. */
  providerStates(): FeedState[] {
    return this.feeds.states();
  }

  /** Each active provider feed's ranges in use, with provenance (the console's Exemptions page). */
  providerRanges(): { provider: string; feed: string; ranges: readonly ProviderRange[] }[] {
    return this.feeds.list.map((f) => ({ provider: f.cfg.provider, feed: f.cfg.feed, ranges: f.result?.ranges ?? [] }));
  }

  /** The zone names this service answers. */
  get zoneNames(): string[] {
    return this.zones().map((z) => z.name);
  }

  private zones(): LoadedZone[] {
    const base = this.opts.config.base;
    return this.datasets.map((d, i) => ({ name: `${['bl', 'wl', 'dbl'][i]}.${base}`, datasets: [d], newestMtime: 0, failed: !this.ready }));
  }

  /** Loads the evidence the last merge persisted (call before the listeners open, then
   *  publish()). A missing, torn or foreign file is ignored with a warning: the zones answer
   *  SERVFAIL until the first merge. */
  restore(): boolean {
    const { log } = this.opts;
    const file = this.evidenceFile;
    const left = removeLeftovers(file);
    if (left.length) log.warn({ files: left }, 'removed partial evidence files left by an interrupted write');
    const t0 = Date.now();
    let got;
    try {
      got = readEvidenceFile(file);
    } catch (err) {
      log.warn({ file, err: (err as Error).message }, 'persisted evidence ignored: bl/wl/dbl answer SERVFAIL until the first merge');
      return false;
    }
    if (!got) {
      log.info({ file }, 'no persisted evidence yet: bl/wl/dbl answer SERVFAIL until the first merge');
      return false;
    }
    // A source or feed dropped from the config since: its listings (or exemptions) would answer
    // until the merge; SERVFAIL for that while is the smaller harm. (A new one just arrives
    // with the merge, as it would have anyway.)
    const names = new Set([...this.opts.config.sources.map((s) => s.name), ...this.feeds.list.map((p) => `${p.cfg.provider}/${p.cfg.feed}`)]);
    const gone = [...got.evidence.sourceNames, ...got.evidence.providerNames].filter((n) => !names.has(n));
    if (gone.length) {
      log.warn({ file, removed: gone }, 'persisted evidence ignored: built with sources or provider feeds no longer configured; bl/wl/dbl answer SERVFAIL until the first merge');
      return false;
    }
    this.swapIn(got.evidence);
    this.restoredInputs = got.inputs;
    this.collisions.restore(got.evidence.serial);
    this.ready = true;
    // the restart merge yields the CPU to DNS answers like any later one
    this.merged = true;
    const e = got.evidence;
    log.info({ file, serial: e.serial, builtAt: new Date(e.builtAt).toISOString(), sources: e.sourceNames, intervals: e.cls4.length, bytes: got.bytes, ms: Date.now() - t0 }, 'persisted evidence loaded: bl/wl/dbl answer from it');
    return true;
  }

  /** Publishes bl/wl/dbl in the zone store (again when they turn from SERVFAIL to ready). */
  publish(): void {
    this.published = true;
    this.opts.store.setExtraZones(this.zones());
  }

  /** Swaps an evidence in with the policy it needs; the old one's buffers go to the next merge. */
  private swapIn(evidence: Evidence): void {
    const c = this.opts.config;
    const old = this.view.evidence;
    this.view.setEvidence(evidence);
    // Answers and explain read the view's current evidence, within one call: the old one's
    // columns can be written over by the next merge.
    retireEvidence(old);
    this.view.setPolicy({ ...policyOf(c, evidence.sourceNames), weights: weightsFor(evidence, Object.fromEntries(c.sources.map((s) => [s.name, s.weight]))) });
  }

  /** What a merge would be built from: each source's loaded files and each feed's ranges. */
  private inputsKey(): string {
    const h = createHash('sha256');
    for (const s of this.opts.config.sources) {
      const st = this.opts.store.stampsOf(this.opts.sourceSpecs.get(s.name)!);
      h.update(JSON.stringify([s.name, st ? st.map((x) => [x.file, x.mtime, x.size, x.ino ?? null]) : null]));
    }
    for (const p of this.feeds.list) h.update(JSON.stringify([`${p.cfg.provider}/${p.cfg.feed}`, p.result?.ranges.map((x) => x.cidr) ?? null]));
    return h.digest('hex');
  }

  private async persist(e: Evidence, inputs: string): Promise<void> {
    const t0 = Date.now();
    try {
      const { bytes } = await writeEvidenceFile(this.evidenceFile, e, inputs);
      this.opts.log.info({ file: this.evidenceFile, serial: e.serial, bytes, ms: Date.now() - t0 }, 'evidence persisted');
    } catch (err) {
      this.opts.log.warn({ file: this.evidenceFile, err: (err as Error).message }, 'evidence not persisted: a restart answers from the previous file (or SERVFAIL) until its first merge');
    }
  }

  setOverlay(o: OverlayView | null): void {
    this.view.setOverlay(o);
  }

  /** Publishes the zones and runs the first merge; schedules provider refreshes. */
  async start(): Promise<void> {
    if (!this.published) this.publish();
    // sync.enabled: false stops every upstream fetch, provider feeds included (last good kept).
    // Feeds with a last good copy or a shipped baseline never hold the first merge back; one with
    // neither is waited for (bounded) and then merged without, loudly.
    await this.feeds.start(this.opts.config.sync.enabled);
    if (!this.watchTimer) {
      this.watchTimer = setInterval(job('reputation-decay', () => this.checkDecay()), VERDICT_WATCH_MS);
      this.watchTimer.unref();
    }
    await this.rebuild();
  }

  stop(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    this.feeds.stop();
    if (this.timer) clearTimeout(this.timer);
  }

  /** A source or feed changed: rebuild soon (several changes in a row make one rebuild). */
  schedule(delayMs = 500): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(job('merge', () => this.rebuild()), delayMs);
    this.timer.unref();
  }

  /** Sweeps the current data into new evidence (in a worker) and swaps it in. Resolves false
   *  when the merge failed (the previous evidence keeps answering). */
  rebuild(): Promise<boolean> {
    if (this.building) {
      this.again = true;
      return this.building;
    }
    this.building = this.doRebuild().finally(() => {
      this.building = null;
      if (this.again) {
        this.again = false;
        void job('merge', () => this.rebuild())();
      }
    });
    return this.building;
  }

  private async doRebuild(): Promise<boolean> {
    const { config: c, log } = this.opts;
    const started = Date.now();
    // Static lists need no network: read them at every merge (an edit applies at once; a
    // broken file keeps the last good ranges, and says so).
    await this.feeds.refreshStatic();
    const used: unknown[] = [
      ...c.sources.map((s) => this.opts.store.datasetOf(this.opts.sourceSpecs.get(s.name)!)),
      ...this.feeds.list.map((p) => p.result?.ranges.map((x) => x.cidr).join(' ')),
    ];
    // Loaded datasets are immutable objects: the same ones and the same provider ranges make
    // the same evidence. Any zone reload republishes every zone and asks for a merge; most of
    // them (another zone, the merged zones' own publication at start) change no input.
    if (this.lastInputs && used.length === this.lastInputs.length && used.every((x, i) => x === this.lastInputs![i])) {
      this.explainStale = true; // fresher sync times for explain
      log.info('merge skipped: no source or provider range changed');
      return true;
    }
    const key = this.inputsKey();
    // After a restart: the persisted evidence was built from the very files now loaded.
    if (!this.lastInputs && this.restoredInputs === key) {
      this.lastInputs = used;
      this.explainStale = true;
      log.info({ serial: this.view.evidence.serial }, 'merge skipped: the persisted evidence was built from these inputs');
      // no stored collisions for it (a crash between the two writes, a torn file): recompute
      if (this.collisionsOn && !this.collisions.has(this.view.evidence.serial)) {
        const got = this.collect();
        await this.updateCollisions(got.sources, got.explainProviders, this.view.evidence.serial);
      }
      return true;
    }
    const { sources, providers, explainSources, explainProviders } = this.collect();
    try {
      // The first merge runs at full speed (bl/wl/dbl hold nothing yet); later ones (and the
      // one after a restart that loaded persisted evidence) yield the CPU to DNS answers.
      const cpuShare = this.merged ? c.background.cpu_share : 1;
      log.info({ sources: sources.length, providers: providers.length, cpuShare }, 'merge started');
      const { evidence, sleptMs } = await buildEvidenceInWorker({ sources, providers }, { cpuShare });
      this.merged = true;
      this.lastInputs = used;
      this.lastMergeAt = Date.now();
      this.swapIn(evidence);
      this.explainSources = explainSources;
      this.explainProviders = explainProviders;
      this.explainStale = false;
      log.info({ serial: evidence.serial, sources: evidence.sourceNames, providers: evidence.providerNames, intervals: evidence.cls4.length, ms: Date.now() - started, cpuShare, pacedMs: Math.round(sleptMs) }, 'merge done: bl/wl/dbl updated');
      if (!this.ready) {
        this.ready = true;
        if (this.published) this.publish(); // SERVFAIL -> answers
      }
      // Before the next merge can start (it may reuse the retired buffers of this evidence
      // only after the next swap): this evidence's columns stay untouched while written.
      if (this.opts.persist) await this.persist(evidence, key);
      await this.updateCollisions(sources, explainProviders, evidence.serial);
      return true;
    } catch (err) {
      jobFailed('merge', err);
      log.error({ err: (err as Error).message }, 'merge failed: the previous evidence keeps answering');
      return false;
    }
  }

  /** The sources' and feeds' current data, for the sweep and for explain. */
  private collect(): { sources: EvidenceSource[]; providers: EvidenceProvider[]; explainSources: ExplainSource[]; explainProviders: ExplainProvider[] } {
    const { config: c, state } = this.opts;
    const sources: EvidenceSource[] = [];
    const explainSources: ExplainSource[] = [];
    for (const s of c.sources) {
      const d = this.opts.store.datasetOf(this.opts.sourceSpecs.get(s.name)!);
      const cov = d ? coverageOf(d) : undefined;
      if (!cov) continue; // no data yet (never synced)
      sources.push({ name: s.name, weight: s.weight, ...cov });
      explainSources.push({ name: s.name, ...cov, lastSuccess: state.getSource(s.name)?.lastSuccess ?? null });
    }
    const providers: EvidenceProvider[] = [];
    const explainProviders: ExplainProvider[] = [];
    for (const p of this.feeds.list) {
      const r = p.result;
      const name = `${p.cfg.provider}/${p.cfg.feed}`;
      providers.push({ name, v4: r?.v4 ?? emptyRangeSet4(), v6: r?.v6 ?? emptyRangeSet6() });
      explainProviders.push({ name, feed: p.cfg.feed, fetchedAt: r?.fetchedAt ?? 0, v4: r?.v4 ?? emptyRangeSet4(), v6: r?.v6 ?? emptyRangeSet6(), ranges: r?.ranges });
    }
    return { sources, providers, explainSources, explainProviders };
  }

  explain(key: string): Explanation {
    const c = this.opts.config;
    if (this.explainStale) {
      const { explainSources, explainProviders } = this.collect();
      this.explainSources = explainSources;
      this.explainProviders = explainProviders;
      this.explainStale = false;
    }
    const ctx: ExplainContext = {
      view: this.view,
      txt: { base: c.base, lookupUrl: c.policy.lookup_url },
      sources: this.explainSources,
      providers: this.explainProviders,
      events: this.events ?? this.opts.events,
      now: Date.now(),
    };
    return explain(key, ctx);
  }
}
