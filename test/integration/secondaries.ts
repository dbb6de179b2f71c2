// Real DNS secondaries for the transfer tests and the transfer benchmark: Knot DNS (`knotd`) and
// NSD started as secondaries of a primary address/port with a TSIG key, each with its own temp
// config, rundir and storage on a free loopback port; a bulk DNS client that asks thousands of
// questions over one UDP socket; and `checkSecondary`, which asks a sample of keys of the
// reference (quorumbl) and of a secondary and lists every difference.
//
// Reuse (replica tests): `checkSecondary(name, ask, reference, questions)` with `ask =
// udpAsker('127.0.0.1', replicaPort)`; it returns the mismatches (empty when they agree).

import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { Proc, freePort, makeTmpDir, poll } from './helpers.ts';
import { recipe } from './recipes.ts';
import { encodeName, parseMessage, readSoa, rdataText, T } from '../../core/dns/message.ts';
import type { TsigKey } from '../../core/dns/tsig.ts';

export type SecondaryKind = 'knot' | 'nsd';

export interface SecondaryOptions {
  kind: SecondaryKind;
  /** The primary: where the secondary transfers from and whom it accepts NOTIFY from. */
  primary: { host: string; port: number };
  key: TsigKey;
  /** Zones configured one by one (NSD needs this; Knot too unless `catalog` is given). */
  zones?: string[];
  /** Knot only: a catalog zone (RFC 9432) to interpret (docs/integration.md knot-catalog.conf);
   *  its members use the doc's template. */
  catalog?: string;
  /** Port to listen on (a free one when absent): a primary's notify list may need it first. */
  port?: number;
}

export class Secondary {
  constructor(
    readonly kind: SecondaryKind,
    readonly port: number,
    readonly dir: string,
    readonly proc: Proc,
    private readonly logFile: string | null,
  ) {}

  /** The server's log so far (Knot logs to stderr, NSD to its log file). */
  log(): string {
    const own = this.proc.output();
    if (!this.logFile || !existsSync(this.logFile)) return own;
    return own + readFileSync(this.logFile, 'utf8');
  }

  /** The zone's SOA serial as the secondary serves it now; null when it does not answer it. */
  async serial(zone: string): Promise<number | null> {
    return soaSerial('127.0.0.1', this.port, zone);
  }

  /** Waits until the secondary serves `zone` with a serial >= min (any serial when min is
   *  undefined); returns it. */
  async waitSerial(zone: string, min?: number, timeoutMs = 30000): Promise<number> {
    return poll(
      async () => {
        const s = await this.serial(zone);
        return s !== null && (min === undefined || serialGte(s, min)) ? s : undefined;
      },
      `${this.kind} to serve ${zone}${min === undefined ? '' : ` at serial >= ${min}`}`,
      { timeoutMs, intervalMs: 150, describe: () => this.tail() },
    );
  }

  /** Waits until the secondary no longer serves `zone` (REFUSED/no SOA). */
  async waitGone(zone: string, timeoutMs = 30000): Promise<void> {
    await poll(async () => ((await this.serial(zone)) === null ? true : undefined), `${this.kind} to drop ${zone}`, {
      timeoutMs,
      intervalMs: 150,
      describe: () => this.tail(),
    });
  }

  tail(n = Number(process.env.SECONDARY_LOG_TAIL ?? 4000)): string {
    const l = this.log();
    return l.length > n ? '...' + l.slice(-n) : l;
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}

/** RFC 1982 serial comparison: a >= b. */
export function serialGte(a: number, b: number): boolean {
  return a === b || ((a - b) >>> 0) < 0x80000000;
}

/** Starts knotd or NSD as a secondary; resolves once it answers DNS (zones may still be
 *  transferring: use waitSerial). */
export async function startSecondary(o: SecondaryOptions): Promise<Secondary> {
  const dir = makeTmpDir(`quorumbl-${o.kind}-`);
  const port = o.port ?? (await freePort());
  const sec = o.kind === 'knot' ? startKnot(dir, port, o) : startNsd(dir, port, o);
  await poll(
    async () => {
      if (sec.proc.exitStatus) throw new Error(`${o.kind} exited: ${sec.tail()}`);
      return (await askOnce('127.0.0.1', port, 'version.server.', T.TXT, 3, 500)) ? true : undefined;
    },
    `${o.kind} to answer on port ${port}`,
    { timeoutMs: 20000, describe: () => sec.tail() },
  );
  return sec;
}

/** A block of docs/integration.md with the example primary, key and secret replaced. */
function docBlock(tag: string, o: SecondaryOptions): string {
  const doc = recipe(tag);
  const secret = /secret:? "?([A-Za-z0-9+/=]+)"?/.exec(doc)?.[1];
  let t = doc.replaceAll('10.0.0.53@53', `${o.primary.host}@${o.primary.port}`).replaceAll('10.0.0.53', o.primary.host);
  if (secret) t = t.replaceAll(secret, o.key.secret);
  return t.replaceAll('xfr-key', o.key.name).replaceAll('hmac-sha256', o.key.algorithm);
}

/** The doc's block up to its zone list (the harness writes its own zones). */
function beforeZones(text: string): string {
  const i = text.search(/^zone:/m);
  return i < 0 ? text : text.slice(0, i);
}

function startKnot(dir: string, port: number, o: SecondaryOptions): Secondary {
  // key, remote, acl and the member template exactly as docs/integration.md writes them
  const doc = beforeZones(docBlock('knot-secondary.conf', o))
    .replace(/^template:\n/m, `template:\n  - id: default\n    storage: "${dir}/zones"\n`)
    .replace(/^(  - id: quorumbl-zone\n)/m, `$1    storage: "${dir}/zones"\n`);
  const zones = o.catalog
    ? docBlock('knot-catalog.conf', o).replaceAll('catalog.dnsbl.internal', o.catalog)
    : 'zone:\n' + (o.zones ?? []).map((z) => `  - domain: ${z}\n    template: quorumbl-zone\n`).join('');
  const conf = `server:
    rundir: "${dir}/run"
    listen: 127.0.0.1@${port}
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
database:
    storage: "${dir}/db"
log:
  - target: stderr
    any: info
${doc}${zones}`;
  for (const d of ['run', 'db', 'zones']) mkdirSync(join(dir, d), { recursive: true });
  const file = join(dir, 'knot.conf');
  writeFileSync(file, conf);
  const proc = new Proc(`knotd ${port}`, 'knotd', ['-c', file], {});
  return new Secondary('knot', port, dir, proc, null);
}

function startNsd(dir: string, port: number, o: SecondaryOptions): Secondary {
  const logFile = join(dir, 'nsd.log');
  // key and pattern exactly as docs/integration.md writes them
  const doc = beforeZones(docBlock('nsd-secondary.conf', o));
  const zones = (o.zones ?? []).map((z) => `zone:\n    name: "${z}"\n    include-pattern: "quorumbl"\n`).join('');
  const conf = `server:
    ip-address: 127.0.0.1@${port}
    port: ${port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "${dir}"
    database: ""
    zonelistfile: "${dir}/zone.list"
    xfrdfile: "${dir}/xfrd.state"
    xfrdir: "${dir}/xfr"
    pidfile: "${dir}/nsd.pid"
    logfile: "${logFile}"
    verbosity: 2
    hide-version: no
    zonefiles-write: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
${doc}${zones}`;
  mkdirSync(join(dir, 'xfr'), { recursive: true });
  const file = join(dir, 'nsd.conf');
  writeFileSync(file, conf);
  const proc = new Proc(`nsd ${port}`, 'nsd', ['-d', '-c', file], {});
  return new Secondary('nsd', port, dir, proc, logFile);
}

// ---------------------------------------------------------------------------------------------
// A primary for proving the harness itself: knotd serving zone files, notifying a secondary.

export interface KnotPrimary {
  port: number;
  proc: Proc;
  dir: string;
  /** Writes a new zone file for `zone` and has knotd reload it (it then sends NOTIFY). */
  setZone(zone: string, text: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startKnotPrimary(
  zones: Record<string, string>,
  key: TsigKey,
  notify: Array<{ port: number }> = [],
): Promise<KnotPrimary> {
  const dir = makeTmpDir('quorumbl-knotp-');
  const port = await freePort();
  for (const d of ['run', 'db', 'zones']) mkdirSync(join(dir, d), { recursive: true });
  for (const [z, text] of Object.entries(zones)) writeFileSync(join(dir, 'zones', `${z}.zone`), text);
  const conf = `server:
    rundir: "${dir}/run"
    listen: 127.0.0.1@${port}
    background-workers: 1
database:
    storage: "${dir}/db"
key:
  - id: ${key.name}
    algorithm: ${key.algorithm}
    secret: ${key.secret}
remote:
${notify.map((n, i) => `  - id: sec${i}\n    address: 127.0.0.1@${n.port}\n    key: ${key.name}\n`).join('')}acl:
  - id: xfr
    address: 127.0.0.1
    key: ${key.name}
    action: transfer
template:
  - id: default
    storage: "${dir}/zones"
    file: "%s.zone"
    acl: xfr
    journal-content: changes
    zonefile-load: difference
${notify.length ? `    notify: [${notify.map((_, i) => `sec${i}`).join(', ')}]\n` : ''}zone:
${Object.keys(zones).map((z) => `  - domain: ${z}\n`).join('')}log:
  - target: stderr
    any: info
`;
  writeFileSync(join(dir, 'knot.conf'), conf);
  const proc = new Proc(`knotd primary ${port}`, 'knotd', ['-c', join(dir, 'knot.conf')], {});
  const first = Object.keys(zones)[0]!;
  await poll(async () => ((await soaSerial('127.0.0.1', port, first)) !== null ? true : undefined), 'knotd primary to serve', {
    timeoutMs: 20000,
    describe: () => proc.tail(),
  });
  return {
    port,
    proc,
    dir,
    async setZone(zone, text) {
      writeFileSync(join(dir, 'zones', `${zone}.zone`), text);
      await execFileP('knotc', ['-s', join(dir, 'run', 'knot.sock'), 'zone-reload', zone]);
    },
    stop: () => proc.stop().then(() => undefined),
  };
}

function execFileP(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}

/** Runs kdig; resolves with its output and exit code (never rejects on a DNS error). */
export function kdig(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile('kdig', args, { maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Asking many questions fast: one UDP socket, a window of queries in flight, retries.

export interface Question {
  name: string;
  type: number;
}

/** What the comparison looks at: rcode, the sorted A set, whether a TXT came. */
export interface Answer {
  rcode: number;
  a: string[];
  txt: boolean;
  aa: boolean;
}

export type Ask = (qs: readonly Question[]) => Promise<Answer[]>;

function query(id: number, name: string, type: number): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([head, encodeName(name), tail]);
}

function summarise(buf: Buffer, type: number): Answer {
  const m = parseMessage(buf);
  const a: string[] = [];
  let txt = false;
  for (const rr of m.answers) {
    if (rr.type === T.A && (type === T.A || type === 255)) a.push(rdataText(buf, rr));
    if (rr.type === T.TXT) txt = true;
  }
  return { rcode: m.rcode, a: a.sort(), txt, aa: (m.flags & 0x0400) !== 0 };
}

/** Asks one question; the reply buffer, or null after `tries` timeouts. */
export async function askOnce(host: string, port: number, name: string, type: number, tries = 3, timeoutMs = 1000): Promise<Buffer | null> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    for (let t = 0; t < tries; t++) {
      const id = (Math.random() * 0xffff) | 0;
      const reply = await new Promise<Buffer | null>((resolve) => {
        const timer = setTimeout(() => {
          s.off('message', on);
          resolve(null);
        }, timeoutMs);
        const on = (msg: Buffer) => {
          if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
          clearTimeout(timer);
          s.off('message', on);
          resolve(msg);
        };
        s.on('message', on);
        s.send(query(id, name, type), port, host);
      });
      if (reply) return reply;
    }
    return null;
  } finally {
    s.close();
  }
}

/** The SOA serial of `zone` at host:port, or null (no answer, REFUSED, no SOA). */
export async function soaSerial(host: string, port: number, zone: string): Promise<number | null> {
  const r = await askOnce(host, port, zone, T.SOA, 2, 700);
  if (!r) return null;
  const m = parseMessage(r);
  if (m.rcode !== 0) return null;
  const soa = m.answers.find((x) => x.type === T.SOA);
  return soa ? readSoa(r, soa).serial : null;
}

/** An Ask over UDP to host:port: up to `window` queries in flight, each retried on timeout. */
export function udpAsker(host: string, port: number, window = 256): Ask {
  return async (qs) => {
    const sock: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => sock.bind(0, r));
    const out: Answer[] = new Array(qs.length);
    const pending = new Map<number, { i: number; tries: number; timer: NodeJS.Timeout }>();
    let next = 0;
    let done = 0;
    let nextId = 1;
    return new Promise<Answer[]>((resolve, reject) => {
      const send = (i: number, tries: number) => {
        nextId = (nextId % 0xffff) + 1;
        const id = nextId;
        const timer = setTimeout(() => {
          pending.delete(id);
          if (tries >= 5) {
            sock.close();
            reject(new Error(`no answer from ${host}:${port} for ${qs[i]!.name} after 5 tries`));
            return;
          }
          send(i, tries + 1);
        }, 1000);
        pending.set(id, { i, tries, timer });
        sock.send(query(id, qs[i]!.name, qs[i]!.type), port, host);
      };
      const fill = () => {
        while (pending.size < window && next < qs.length) send(next++, 1);
        if (done === qs.length) {
          sock.close();
          resolve(out);
        }
      };
      sock.on('message', (msg) => {
        if (msg.length < 12) return;
        const p = pending.get(msg.readUInt16BE(0));
        if (!p) return;
        clearTimeout(p.timer);
        pending.delete(msg.readUInt16BE(0));
        try {
          out[p.i] = summarise(msg, qs[p.i]!.type);
        } catch (e) {
          sock.close();
          reject(new Error(`bad reply from ${host}:${port} for ${qs[p.i]!.name}: ${(e as Error).message}`));
          return;
        }
        done++;
        fill();
      });
      fill();
    });
  };
}

export interface Mismatch {
  question: Question;
  reference: Answer;
  secondary: Answer;
}

/**
 * Asks every question of the reference and of the secondary `name` and returns the questions
 * whose answers differ (rcode, A set, TXT presence). Empty = the secondary answers as the
 * reference does.
 */
export async function checkSecondary(name: string, ask: Ask, reference: Ask, questions: readonly Question[]): Promise<Mismatch[]> {
  const [ref, sec] = await Promise.all([reference(questions), ask(questions)]);
  const bad: Mismatch[] = [];
  for (let i = 0; i < questions.length; i++) {
    const r = ref[i]!;
    const s = sec[i]!;
    if (r.rcode !== s.rcode || r.txt !== s.txt || r.a.join(',') !== s.a.join(',')) bad.push({ question: questions[i]!, reference: r, secondary: s });
  }
  void name;
  return bad;
}

/** A readable list of the first mismatches, for an assertion message. */
export function describeMismatches(name: string, bad: readonly Mismatch[], max = 10): string {
  const show = (a: Answer) => `rcode ${a.rcode} A [${a.a.join(' ')}] txt ${a.txt}`;
  return (
    `${name}: ${bad.length} answer(s) differ from the reference\n` +
    bad
      .slice(0, max)
      .map((m) => `  ${m.question.name} ${m.question.type}: reference ${show(m.reference)} | ${name} ${show(m.secondary)}`)
      .join('\n')
  );
}
