// `quorumbl export --format rbldnsd|zonefile [--out FILE|DIR] [ZONE...]`: the zones as rbldnsd
// data files or RFC 1035 zone files, computed in this process from the state on disk the way
// `explain` does (the sources' current copies, the persisted merge evidence, the overrides and
// reputation in the state database), so it works with or without a running serve. A file is
// written to a temp name beside it and renamed: an rsync of it never sees half a file.

import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import { pino } from 'pino';
import type { LoadedConfig } from '../core/config/load.ts';
import { ZoneStore, type LoadedZone } from '../core/zones/store.ts';
import { EXPORT_FORMATS, ExportError, exportFileName, exportZoneOf, resolveZoneName, type ExportFormat } from '../core/zones/export-zone.ts';
import { exportChunks } from '../core/zones/export.ts';
import { DEFAULT_MAX_EXPANSION } from '../core/zones/records.ts';
import { ArgsError, parseCommand, type CommandSpec } from './args.ts';
import type { RuntimeSpec } from './runtime.ts';
import { zonesFromConfig } from './spec.ts';
import { mirrorZones } from './sync.ts';
import { offlineMerge } from './offline-merge.ts';

export const EXPORT: CommandSpec = {
  name: 'export', positionals: [0, Infinity], needs: 'ZONE names',
  options: { format: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' } },
  usage: `usage: quorumbl export --format rbldnsd|zonefile [--config FILE] [--out FILE|DIR] [ZONE...]
  writes the zones (default: every zone served; short names bl, wl, dbl, SOURCE.mirror) as
  rbldnsd data files (serve each as ZONE:combined:FILE) or RFC 1035 zone files.
  --out FILE: one zone, written atomically; --out DIR (an existing directory): one file per zone,
  ZONE.rbldnsd or ZONE.zone; without --out: stdout (rbldnsd: one zone only).`,
};

/** Most problems printed per zone (what a standard server or rbldnsd cannot say as we do). */
const MAX_PROBLEMS = 20;

/** The zones serve answers, loaded here from the state directory. */
async function loadZones(cfg: LoadedConfig, spec: RuntimeSpec): Promise<{ zones: LoadedZone[]; close: () => void }> {
  const stateDir = spec.stateDir!;
  const log = pino({ level: 'silent' });
  let zones: LoadedZone[] = [];
  const store = new ZoneStore(zonesFromConfig(cfg, stateDir), { settings: spec.settings, stateDir, log, onChange: (z) => (zones = z) });
  await store.loadSnapshots();
  await store.check();
  const mirrors = mirrorZones(cfg, stateDir);
  const { merge, db } = offlineMerge(cfg, stateDir, store, mirrors, log);
  try {
    // what serve answers from: its persisted evidence; without one, a merge of the current data
    if (!merge.restore()) await merge.rebuild();
    merge.publish();
    merge.stop();
  } catch (e) {
    db.close();
    throw e;
  }
  return { zones: zones.filter((z) => z.name !== ''), close: () => db.close() };
}

/** Writes chunks to fd, all of them (a short write is continued; a full disk throws). */
function writeAll(fd: number, chunks: Iterable<string>): void {
  for (const c of chunks) {
    const b = Buffer.from(c, 'utf8');
    for (let at = 0; at < b.length; ) at += writeSync(fd, b, at);
  }
}

/** Writes chunks to stdout, waiting for it to drain (a slow pipe holds the export, not memory). */
async function writeStdout(chunks: Iterable<string>): Promise<void> {
  for (const c of chunks) if (!process.stdout.write(c)) await once(process.stdout, 'drain');
}

/** Writes `file` through a temp file beside it, fsync, rename; nothing is left behind on error. */
function writeAtomically(file: string, chunks: Iterable<string>): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeAll(fd, chunks);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export async function exportCommand(args: string[], cfg: LoadedConfig, spec: RuntimeSpec): Promise<number> {
  const { values, positionals } = parseCommand(EXPORT, args);
  const format = values.format as string | undefined;
  if (format === undefined) throw new ArgsError(EXPORT, '--format rbldnsd|zonefile is required');
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new ArgsError(EXPORT, `--format must be rbldnsd or zonefile, not "${format}"`);
  const fmt = format as ExportFormat;
  const out = values.out as string | undefined;
  const toDir = out !== undefined && isDir(out);

  const { zones, close } = await loadZones(cfg, spec);
  try {
    const names = zones.map((z) => z.name);
    const chosen: LoadedZone[] = [];
    for (const arg of positionals) {
      const n = resolveZoneName(names, arg, cfg.config.base);
      if (n === undefined) {
        process.stderr.write(`export: no zone "${arg}" (served: ${names.join(', ')})\n`);
        return 2;
      }
      chosen.push(zones.find((z) => z.name === n)!);
    }
    const all = positionals.length === 0;
    const list = all ? zones : chosen;
    if (out !== undefined && !toDir && list.length !== 1)
      throw new ArgsError(EXPORT, `--out ${out} is not a directory: name one zone, or give an existing directory for ${list.length} zones`);
    if (out === undefined && fmt === 'rbldnsd' && list.length !== 1)
      throw new ArgsError(EXPORT, `rbldnsd files hold one zone each: name one zone, or give --out DIR for ${list.length} zones`);

    let status = 0;
    for (const z of list) {
      const problems: string[] = [];
      const opts = { maxExpansion: cfg.config.transfer?.max_expansion ?? DEFAULT_MAX_EXPANSION, report: (p: string) => problems.push(p) };
      try {
        const chunks = exportChunks(exportZoneOf(z), fmt, opts);
        if (out === undefined) await writeStdout(chunks);
        else writeAtomically(toDir ? join(out, exportFileName(z.name, fmt)) : out, chunks);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (out !== undefined && typeof code === 'string') {
          // the disk: the file there (if any) is still the previous export, whole
          process.stderr.write(`export: ${z.name}: cannot write ${out}: ${(e as Error).message}\n`);
          return 1;
        }
        if (!(e instanceof ExportError)) throw e;
        process.stderr.write(`export: ${e.message}${all ? ' (skipped)' : ''}\n`);
        status = 1;
        continue;
      }
      for (const p of problems.slice(0, MAX_PROBLEMS)) process.stderr.write(`export: ${z.name}: ${p}\n`);
      if (problems.length > MAX_PROBLEMS) process.stderr.write(`export: ${z.name}: ${problems.length - MAX_PROBLEMS} more problems\n`);
    }
    return status;
  } finally {
    close();
  }
}
