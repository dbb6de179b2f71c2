// `quorumbl sources`: sync state of each source, and the operator's decision on quarantined updates.
// Works on the state database and the files under <state_dir>/sources/ only; a running server
// notices a changed `current` file by itself.

import { openDb, type Db } from '../core/db.ts';
import { SyncState, type Quarantine, type SourceState, type SyncRun } from '../sync/state.ts';
import { describeHolder } from '../sync/lease.ts';
import {
  QuarantineFileMissing, SourceBusy, SourceError, SourcesService, sourceView, type DecisionResult, type SourceInfo,
} from '../sync/sources-service.ts';
import { cliActor, osUser } from './override.ts';
import { ArgsError, HelpRequest, parseCommand, type CommandSpec } from './args.ts';

export interface SourcesContext {
  dbPath: string;
  stateDir: string;
  sources: SourceInfo[];
  /** Output sinks and clock (tests); default stdout, stderr and Date.now. */
  out?: (s: string) => void;
  err?: (s: string) => void;
  now?: () => number;
  /** The OS user (audit log: `cli:<user>`); default the user running the command. */
  user?: string;
  /** ` --config FILE` when one was given: hints name the same config. */
  configFlag?: string;
}

const USAGE = `usage: quorumbl sources [--json]          state of every source
       quorumbl sources show NAME         one source with its recent sync runs
       quorumbl sources accept NAME       serve the quarantined update of NAME
       quorumbl sources drop NAME         delete the quarantined update of NAME
Every form takes --config FILE; show takes --json.`;

export const SOURCES: CommandSpec = { name: 'sources', usage: USAGE, positionals: [0, 2], options: { json: { type: 'boolean' } } };

export async function sourcesCommand(args: string[], ctx: SourcesContext): Promise<number> {
  const out = ctx.out ?? ((s: string) => void process.stdout.write(s));
  const err = ctx.err ?? ((s: string) => void process.stderr.write(s));
  const now = ctx.now ?? Date.now;
  let parsed;
  try {
    parsed = parseCommand(SOURCES, args);
  } catch (e) {
    if (e instanceof HelpRequest) {
      out(USAGE + '\n');
      return 0;
    }
    if (e instanceof ArgsError) return usage(err, e.message);
    throw e;
  }
  const [cmd, ...names] = parsed.positionals;
  const json = parsed.values.json === true;
  const cf = ctx.configFlag ?? '';

  if (cmd === undefined || cmd === 'list') {
    if (names.length > 0) return usage(err, `unexpected argument '${names[0]}'`);
    return withDb(ctx, err, (db) => list(new SyncState(db, now), ctx, json, out, now));
  }
  if (cmd === 'help') {
    out(USAGE + '\n');
    return 0;
  }
  if (cmd !== 'accept' && cmd !== 'drop' && cmd !== 'show') return usage(err, `unknown sources command '${cmd}'`);
  if (names.length !== 1) return usage(err, `'sources ${cmd}' takes one source name`);
  const name = names[0]!;
  return withDb(ctx, err, (db) => {
    const service = new SourcesService(db, {
      stateDir: ctx.stateDir, sources: ctx.sources, now, dbPath: ctx.dbPath,
      command: (d, n) => `quorumbl sources ${d} ${n}`,
    });
    try {
      const { state: known } = service.get(name);
      if (cmd === 'show') return show(service.state, name, known, json, out, now, ctx);
      // The decision (lease, re-read under it, files, audited state change) is the service's
      // (sync/sources-service.ts), as for the API and the console.
      const r = service.decide(name, cmd, cliActor(ctx.user ?? osUser()));
      out((cmd === 'accept' ? accepted(r, now()) : dropped(r, now())) + '\n');
      return 0;
    } catch (e) {
      if (e instanceof SourceBusy) {
        err(`a sync of '${name}' is running in ${describeHolder(e.holder, now())}; try again when it has ended ` +
          `('quorumbl sources show ${name}${cf}')\n`);
        return 75;
      }
      if (e instanceof QuarantineFileMissing) {
        err(`the quarantined update of '${name}' is recorded at ${e.file}, but that file is missing; ` +
          `'quorumbl sources drop ${name}${cf}' forgets it\n`);
        return 1;
      }
      if (e instanceof SourceError) {
        err(`${e.message}\n`);
        return 1;
      }
      throw e;
    }
  });
}

function usage(err: (s: string) => void, msg: string): number {
  err(`quorumbl sources: ${msg}\n${USAGE}\n`);
  return 2;
}

function withDb(ctx: SourcesContext, err: (s: string) => void, f: (db: Db) => number): number {
  let db: Db;
  try {
    db = openDb(ctx.dbPath);
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  try {
    return f(db);
  } finally {
    db.close();
  }
}

// ---- list ---------------------------------------------------------------------------------------

interface Listed { name: string; configured: boolean; state: SourceState | null }

function listed(state: SyncState, ctx: SourcesContext): Listed[] {
  const rows = new Map(state.listSources().map((s) => [s.name, s]));
  const result: Listed[] = ctx.sources.map((s) => ({ name: s.name, configured: true, state: rows.get(s.name) ?? null }));
  // Sources with state but no longer in the config still show (their quarantine may need a decision).
  for (const [name, s] of rows) if (!ctx.sources.some((c) => c.name === name)) result.push({ name, configured: false, state: s });
  return result;
}

function list(state: SyncState, ctx: SourcesContext, json: boolean, out: (s: string) => void, now: () => number): number {
  const items = listed(state, ctx);
  if (json) {
    out(JSON.stringify(items.map((i) => jsonOf(i.name, i.configured, i.state, ctx)), null, 2) + '\n');
    return 0;
  }
  if (items.length === 0) {
    out('no sources are configured and none has sync state\n');
    return 0;
  }
  const t = now();
  const header = ['NAME', 'LAST SUCCESS', 'LAST ATTEMPT', 'ENTRIES', 'QUARANTINED'];
  const rows = items.map((i) => {
    const s = i.state;
    return [
      i.configured ? i.name : `${i.name} (not in config)`,
      s?.lastSuccess != null ? age(t, s.lastSuccess) : 'never',
      s?.lastAttempt != null ? `${s.lastOutcome ?? 'running'}, ${age(t, s.lastAttempt)}` : 'never',
      s?.entries != null ? fmtInt(s.entries) : '-',
      s?.quarantine ? `yes, ${age(t, s.quarantine.at)}: ${s.quarantine.reasons[0] ?? 'no reason recorded'}${s.quarantine.reasons.length > 1 ? ` (+${s.quarantine.reasons.length - 1} more)` : ''}` : 'no',
    ];
  });
  out(table(header, rows));

  // Details an admin acts on: why syncs fail, why updates were held back.
  const notes: string[] = [];
  for (const i of items) {
    const s = i.state;
    if (!s) continue;
    if (s.lastOutcome === 'failed' && s.lastError) notes.push(`${i.name}: last sync failed: ${s.lastError}`);
    if (s.quarantine) notes.push(quarantineText(i.name, s.quarantine, t, ctx.configFlag));
  }
  if (notes.length > 0) out('\n' + notes.join('\n\n') + '\n');
  return 0;
}

function quarantineText(name: string, q: Quarantine, t: number, cf = ''): string {
  const lines = [`${name}: an update is quarantined since ${iso(q.at)} (${age(t, q.at)})` +
    `${q.stats ? `, ${fmtInt(q.stats.entries)} entries` : ''}, because:`];
  for (const r of q.reasons) lines.push(`  - ${r}`);
  lines.push(`  file: ${q.path}`);
  lines.push(`  decide: quorumbl sources accept ${name}${cf}   |   quorumbl sources drop ${name}${cf}`);
  return lines.join('\n');
}

function show(state: SyncState, name: string, s: SourceState | null, json: boolean, out: (x: string) => void, now: () => number, ctx: SourcesContext): number {
  const runs = state.recentRuns(name, 10);
  if (json) {
    out(JSON.stringify({ ...jsonOf(name, ctx.sources.some((x) => x.name === name), s, ctx), runs: runs.map(runJson) }, null, 2) + '\n');
    return 0;
  }
  const t = now();
  const lines = [`source ${name}`];
  if (!s) lines.push('  never synced');
  else {
    lines.push(`  last success: ${s.lastSuccess != null ? `${iso(s.lastSuccess)} (${age(t, s.lastSuccess)})` : 'never'}`);
    lines.push(`  last attempt: ${s.lastAttempt != null ? `${iso(s.lastAttempt)} (${age(t, s.lastAttempt)}), ${s.lastOutcome ?? 'running'}` : 'never'}`);
    if (s.lastError) lines.push(`  last error:   ${s.lastError}`);
    if (s.stats) {
      lines.push(`  last good copy: ${fmtInt(s.stats.entries)} entries, ${fmtInt(s.stats.addresses4)} IPv4 addresses, ` +
        `${fmtInt(s.stats.errors)} parse errors in ${fmtInt(s.stats.lines)} lines`);
    }
    if (s.validators.etag || s.validators.lastModified) {
      lines.push(`  validators: ${[s.validators.etag && `ETag ${s.validators.etag}`, s.validators.lastModified && `Last-Modified ${s.validators.lastModified}`].filter(Boolean).join(', ')}`);
    }
    if (s.quarantine) lines.push(quarantineText(name, s.quarantine, t, ctx.configFlag).replace(/^/gm, '  '));
  }
  if (runs.length > 0) {
    lines.push('', 'recent runs:');
    lines.push(table(['STARTED', 'DURATION', 'OUTCOME', 'BYTES', 'ENTRIES', 'NOTE'], runs.map((r) => [
      iso(r.started),
      r.ended != null ? `${((r.ended - r.started) / 1000).toFixed(1)}s` : '-',
      r.outcome ?? 'running',
      r.bytes != null ? fmtInt(r.bytes) : '-',
      r.entries != null ? fmtInt(r.entries) : '-',
      r.note ?? r.error ?? '',
    ])).trimEnd());
  }
  out(lines.join('\n') + '\n');
  return 0;
}

function jsonOf(name: string, configured: boolean, s: SourceState | null, ctx: SourcesContext) {
  return sourceView(name, configured ? ctx.sources.find((x) => x.name === name) : undefined, s);
}

function runJson(r: SyncRun) {
  return { ...r, started: iso(r.started), ended: isoOrNull(r.ended) };
}

// ---- accept / drop: what the CLI says ------------------------------------------------------------

function accepted(r: DecisionResult, t: number): string {
  const q = r.quarantine;
  return [
    `accepted the quarantined update of '${r.source}' (quarantined ${age(t, q.at)}, ` +
      `${q.stats ? `${fmtInt(q.stats.entries)} entries, ` : ''}${fmtInt(r.bytes ?? 0)} bytes)`,
    'it had been held back because:',
    ...q.reasons.map((x) => `  - ${x}`),
    `it is now the last good copy: ${r.current}`,
    'a running server picks up the new file by itself; later updates are compared with this copy',
  ].join('\n');
}

function dropped(r: DecisionResult, t: number): string {
  const file = r.deleted ?? r.quarantine.path;
  return [
    `dropped the quarantined update of '${r.source}' (quarantined ${age(t, r.quarantine.at)})` +
      (r.deleted ? `; deleted ${file}` : `; its file ${file} was already gone`),
    'the last good copy keeps serving; the next sync fetches the source again and re-checks it',
  ].join('\n');
}

// ---- formatting ---------------------------------------------------------------------------------

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** "45s ago", "12m ago", "3h ago", "2d ago". */
export function age(now: number, then: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 90) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.round(h / 24)}d ago`;
}

function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoOrNull(t: number | null | undefined): string | null {
  return t == null ? null : iso(t);
}

const INT = new Intl.NumberFormat('en-US');
function fmtInt(n: number): string {
  return INT.format(n);
}
