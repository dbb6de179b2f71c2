// Shared by the dataset tests: data files in temp dirs, loading them through the reader,
// asking a dataset and collecting its records, snapshot round trips, and the rbldnsd/dig
// plumbing of the differential tests.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Dataset, DatasetType, RecordSink } from '../../../core/datasets/types.ts';
import { loadDataset } from '../../../core/rbldnsd/reader.ts';
import { defaultLoadOptions, type LoadOptions } from '../../../core/rbldnsd/state.ts';
import { ip4ToString, makeQuery } from '../../../core/query.ts';
import { parseIp6Cidr } from '../../../core/ip6.ts';

export const QTYPE = { A: 1, NS: 2, SOA: 6, MX: 15, TXT: 16, AAAA: 28, ANY: 255 } as const;
export type QtypeName = keyof typeof QTYPE;

/** A fresh temp dir that rbldnsd (running as nobody) can read. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

/** Writes `texts` (latin1 byte strings) into `dir` as f0.txt, f1.txt… or the given names. */
export function writeFiles(dir: string, texts: string[], name = (i: number) => `f${i}.txt`): string[] {
  return texts.map((text, i) => {
    const f = join(dir, name(i));
    writeFileSync(f, text, 'latin1');
    chmodSync(f, 0o644);
    return f;
  });
}

export interface LoadHow {
  /** Warnings as "f0.txt:3: message" instead of "3: message". */
  fileInWarnings?: boolean;
  /** File names (default f0.txt, f1.txt…). */
  name?: (i: number) => string;
}

/** Writes the texts to a fresh dir and loads them, in order, as one dataset of `type`. */
export function loadTexts(
  type: DatasetType, texts: string[], opts: Partial<LoadOptions> = {}, how: LoadHow = {},
): { ds: Dataset; warnings: string[]; files: string[] } {
  const dir = tempDir(`qbl-${type.name}-`);
  const files = writeFiles(dir, texts, how.name);
  const warnings: string[] = [];
  const options = defaultLoadOptions({
    ...opts,
    warn: (at, m) => warnings.push(how.fileInWarnings ? `${at.file.slice(dir.length + 1)}:${at.line}: ${m}` : `${at.line}: ${m}`),
  });
  return { ds: loadDataset(type, files, options).dataset, warnings, files };
}

export interface Rec {
  type: 'A' | 'TXT' | 'MX';
  /** 'A': dotted quad; 'TXT': the text; 'MX': "pref exchange." */
  data: string;
  ttl: number;
}

/** Asks `labels` (below the zone, wire order) with qtype; `found` is what the dataset returned. */
export function query(ds: Dataset, labels: readonly string[], qtype: number): { found: boolean; recs: Rec[] } {
  const recs: Rec[] = [];
  const sink: RecordSink = {
    wantA: qtype === 1 || qtype === 255,
    wantTxt: qtype === 16 || qtype === 255,
    qtype,
    a: (ip, ttl) => recs.push({ type: 'A', data: ip4ToString(ip), ttl }),
    txt: (text, ttl) => recs.push({ type: 'TXT', data: text, ttl }),
    mx: (p, e, ttl) => recs.push({ type: 'MX', data: `${p} ${e}.`, ttl }),
  };
  const found = ds.query(makeQuery(labels, qtype), sink);
  return { found, recs };
}

/** A sink that fails the test on any record. */
export const NO_RECORDS: RecordSink = {
  wantA: true, wantTxt: true, qtype: 255, a: () => assert.fail(), txt: () => assert.fail(), mx: () => assert.fail(),
};

/** IPv4 datasets: asks `ip` (dotted); null for "not found", else 'A ip ttl' / 'TXT text ttl'. */
export function askIp4(ds: Dataset, ip: string, qtype: QtypeName = 'ANY'): string[] | null {
  const { found, recs } = query(ds, ip.split('.').reverse(), QTYPE[qtype]);
  if (recs.some((r) => r.type === 'MX')) assert.fail(`no MX from ${ds.type}`);
  return found ? recs.map((r) => `${r.type} ${r.data} ${r.ttl}`) : null;
}

/** Answer records of a query as 'ttl A ip' / 'ttl TXT text' (MX ignored), or null when not found. */
export function ask(ds: Dataset, labels: string[], qtype = 255): string[] | null {
  const { found, recs } = query(ds, labels, qtype);
  return found ? recs.filter((r) => r.type !== 'MX').map((r) => `${r.ttl} ${r.type} ${r.data}`) : null;
}

/** Records as dig shows them ("A 1.2.3.4", "TXT \"x\"", "MX 10 mx.example."), with their TTLs;
 *  `name` is relative to the zone, '@' the zone itself. */
export function askName(ds: Dataset, name: string, type: string): { found: boolean; rrs: string[]; ttls: number[] } {
  const { found, recs } = query(ds, name === '@' ? [] : name.split('.'), QTYPE[type as QtypeName]);
  return {
    found,
    rrs: recs.map((r) => (r.type === 'TXT' ? `TXT "${r.data}"` : `${r.type} ${r.data}`)),
    ttls: recs.map((r) => r.ttl),
  };
}

/** Nibble labels (ip6.arpa order) of an IPv6 address. */
export function rev(addr: string): string[] {
  const r = parseIp6Cidr(addr);
  if (typeof r === 'string') throw new Error(addr);
  return Buffer.from(r.addr).toString('hex').split('').reverse();
}

/** The dataset rebuilt from copies of its snapshot (JSON meta, fresh typed arrays). */
export function roundTrip(type: DatasetType, ds: Dataset): Dataset {
  const part = ds.snapshot();
  return type.fromSnapshot({
    ...part,
    meta: JSON.parse(JSON.stringify(part.meta)),
    arrays: part.arrays.map((a) => (a as Uint8Array).slice()),
  });
}

/** All dump lines of a dataset. */
export function dumpLines(ds: Dataset, zone = 'z'): string[] {
  const out: string[] = [];
  ds.dump(zone, (l) => out.push(l));
  return out;
}

/** ip4set/ip4trie/ip4tset: random plain quads go through the loader's byte fast path; the
 *  same files with `addBytes` hidden (every line through `addLine`) must load the same. */
export function checkBytePathMatchesText(type: DatasetType): void {
  const textOnly: DatasetType = {
    ...type,
    createLoader(state) {
      const l = type.createLoader(state);
      l.addBytes = undefined;
      return l;
    },
  };
  let x = 12345;
  const next = (): number => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % 256;
  const lines: string[] = [':127.0.0.2:default $'];
  for (let i = 0; i < 20_000; i++) {
    const ip = `${next() % 4}.${next() % 3}.${next()}.${next()}`;
    const r = next();
    if (r < 150) lines.push(ip);
    else if (r < 165) lines.push(`!${ip}`);
    else if (r < 180) lines.push(`${ip} :3:v${r}`);
    else if (r < 190) lines.push(`${ip.split('.').slice(0, 3).join('.')}/24`);
    else if (r < 195) lines.push(`:127.0.0.${r % 7}:d${i}`);
    else if (r < 200) lines.push(`0${ip}`);
    else if (r < 205) lines.push(` ${ip}\t\r`);
    else if (r < 210) lines.push(`${ip}.`);
    else lines.push(ip);
  }
  const text = lines.join('\n');
  const how = { fileInWarnings: true };
  const a = loadTexts(type, [text, text], {}, how);
  const b = loadTexts(textOnly, [text, text], {}, how);
  assert.deepEqual(a.warnings, b.warnings);
  assert.deepEqual(dumpLines(a.ds), dumpLines(b.ds));
  assert.deepEqual(a.ds.snapshot(), b.ds.snapshot());
  assert.ok(a.ds.size > 1000);
}

// ---------------------------------------------------------------------------------------------
// Differential tests against the real rbldnsd.

export const RBLDNSD = '/usr/sbin/rbldnsd';

/** True (after skipping `t`) when rbldnsd or dig is missing; fails instead under CI=true. */
export function toolsMissing(t: { skip: (m: string) => void }): boolean {
  const missing = [RBLDNSD, '/usr/bin/dig'].filter((p) => !existsSync(p));
  if (missing.length === 0) return false;
  if (process.env.CI === 'true') assert.fail(`required tool(s) missing: ${missing.join(', ')}`);
  t.skip(`rbldnsd/dig not installed (${missing.join(', ')})`);
  return true;
}

/** dig's answer: the status and the records as "ttl TYPE rdata", in the order dig printed them. */
export function dig(port: number, name: string, type: string): { status: string; rrs: string[] } {
  const out = execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+nocookie', '+norec', '+notcp', '+bufsize=4096', '+tries=1', '+time=2', '+noall', '+answer', '+comments', name, type], { encoding: 'latin1' });
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'NO-REPLY';
  const rrs = out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/))
    .map((f) => `${f[1]} ${f.slice(3).join(' ')}`);
  return { status, rrs };
}

/** Our answer's records in dig's form after the server's rules (duplicates dropped, the lowest
 *  TTL of a type for all its records), in answer order. */
export function serverForm(r: { rrs: string[]; ttls: number[] }): string[] {
  const seen = new Set<string>();
  const recs: { rr: string; ttl: number }[] = [];
  r.rrs.forEach((rr, i) => {
    if (!seen.has(rr)) (seen.add(rr), recs.push({ rr, ttl: r.ttls[i]! }));
  });
  const min = new Map<string, number>();
  for (const x of recs) {
    const t = x.rr.split(' ')[0]!;
    min.set(t, Math.min(min.get(t) ?? Infinity, x.ttl));
  }
  const digForm = (rr: string) => (rr.startsWith('TXT ') ? `TXT "${rr.slice(5, -1).replace(/["\\]/g, (c) => '\\' + c)}"` : rr);
  return recs.map((x) => `${min.get(x.rr.split(' ')[0]!)} ${digForm(x.rr)}`);
}

/** Starts rbldnsd on a random loopback port serving `spec` from `dir`; waits until it answers. */
export async function startRbldnsd(dir: string, spec: string, extraArgs: string[] = []): Promise<{ port: number; proc: ChildProcess }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const args = ['-n', '-b', `127.0.0.1/${port}`, '-w', dir, ...extraArgs, spec];
    if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
    const proc = spawn(RBLDNSD, args, { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (proc.exitCode !== null) break;
      try {
        if (dig(port, `ready.${spec.split(':')[0]}`, 'A').status !== 'NO-REPLY') return { port, proc };
      } catch {
        // not answering yet
      }
    }
    proc.kill();
  }
  throw new Error('rbldnsd did not start');
}
