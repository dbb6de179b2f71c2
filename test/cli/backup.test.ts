// `quorumbl backup` / `restore` against a real `serve` and a real SQLite file:
//   - backups taken while serve takes API overrides and `quorumbl sync` replaces the source are
//     consistent (every source row matches its file, every override has its audit row)
//   - a backup restored into a fresh directory: serve starts and answers as before (dig answers,
//     overrides, reputation, tokens, users, audit, the source data, provider state)
//   - --dry-run changes nothing; a running serve, a newer schema and a damaged archive are refused
//     with the file or the versions named, and the state is left as it was
//   - a full disk during the backup: a clear error, no partial FILE, an older FILE untouched
//   - a restore killed after staging, and between its two renames: the old state or the new one

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MIGRATIONS } from '../../core/db.ts';
import { readTar, tarHeader, tarPadding, TAR_END } from '../../core/tar.ts';
import {
  digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip,
  waitForLog, waitReady, writeConfig, type Proc,
} from '../integration/helpers.ts';
import { fill, tmpfs, tmpfsOrSkip, unmountAll } from '../core/tmpfs.ts';

const skip = toolsOrSkip(['dig']);
const BASE = 'dnsbl.test';
const PASSWORD = 'correct horse battery staple';

after(unmountAll);

/** A plain list of `n` public addresses (and the RFC 5782 test point). */
function list(n: number, salt = 0): string {
  const out = ['127.0.0.2'];
  for (let i = 0; i < n; i++) out.push(`45.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i + salt) & 255}`);
  return [...new Set(out)].join('\n') + '\n';
}

function configText(dir: string, dns: number, web: number): string {
  return [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { listen: "127.0.0.1:${web}" }`,
    'state_dir: state',
    `base: ${BASE}`,
    'sync: { enabled: false }',
    'providers: []',
    'sources:',
    `  - { name: trap, kind: ip, fetch: ${join(dir, 'list.txt')}, format: plain, schedule: "0 0 1 1 *", answer: { a: 127.0.0.4 } }`,
    '',
  ].join('\n');
}

/** Every file under dir with its size and SHA-256 (what "nothing changed" compares). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = `${statSync(p).size}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const TABLES = ['overrides', 'reputation_events', 'reputation_scores', 'api_tokens', 'users', 'audit_log', 'source_state', 'removal_requests'];

function rows(dbFile: string): Record<string, unknown[]> {
  const db = new Database(dbFile, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}

async function ask(port: number, name: string): Promise<string> {
  const r = await digRaw('127.0.0.1', port, [name, 'A']);
  const rep = r.replies[0];
  if (!rep) throw new Error(`no reply for ${name}: ${r.stdout}${r.stderr}`);
  return `${rep.status} ${rep.answer.filter((x) => x.type === 'A').map((x) => x.data).sort().join(',')}`;
}

/** Rewrites an archive's entries (tests of a damaged or foreign backup). */
async function rewrite(src: string, dst: string, edit: (name: string, data: Buffer) => Buffer): Promise<void> {
  const raw = readFileSync(src);
  const tar = raw[0] === 0x1f ? gunzipSync(raw) : raw;
  const parts: Buffer[] = [];
  async function* one() {
    yield tar;
  }
  await readTar(one(), (e) => {
    const chunks: Buffer[] = [];
    return {
      write: (c) => void chunks.push(Buffer.from(c)),
      end: () => {
        const data = edit(e.name, Buffer.concat(chunks));
        parts.push(tarHeader({ ...e, size: data.length }), data, tarPadding(data.length));
      },
    };
  });
  parts.push(TAR_END);
  writeFileSync(dst, Buffer.concat(parts));
}

describe('backup and restore with a real serve', { skip }, () => {
  let dir: string;
  let cfg: string;
  let dns: number;
  let webPort: number;
  let web: string;
  let serve: Proc | undefined;
  let admin = '';
  const procs: Proc[] = [];

  const api = async (method: string, path: string, body?: unknown, token = admin) => {
    const res = await fetch(web + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json().catch(() => null)) as any };
  };

  before(async () => {
    dir = makeTmpDir('qbl-backup-');
    dns = await freePort();
    webPort = await freePort();
    web = `http://127.0.0.1:${webPort}`;
    writeFileSync(join(dir, 'list.txt'), list(3000));
    cfg = writeConfig(dir, configText(dir, dns, webPort));
    const s = await runQuorumbl(['sync', '--config', cfg]);
    assert.equal(s.code, 0, s.output);
    const t = await runQuorumbl(['token', 'create', '--name', 'root', '--scope', 'admin', '--config', cfg]);
    assert.equal(t.code, 0, t.output);
    admin = t.stdout.trim();
    assert.equal((await runQuorumbl(['override', 'add', 'deny', '192.0.2.9', '--reason', 'backup test', '--config', cfg])).code, 0);
    assert.equal((await runQuorumbl(['override', 'add', 'allow', '45.0.0.7', '--reason', 'customer', '--config', cfg])).code, 0);
    for (let i = 0; i < 3; i++) assert.equal((await runQuorumbl(['report', '198.51.100.20', '--kind', 'spam', '--config', cfg])).code, 0);
    // Provider feed state as a feed leaves it (sync/providers/store.ts).
    mkdirSync(join(dir, 'state', 'providers', 'last-good', 'acme'), { recursive: true });
    writeFileSync(join(dir, 'state', 'providers', 'last-good', 'acme', 'outbound.json'), '{"format":1,"ranges":["203.0.113.0/24"]}\n');
    serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD } });
    procs.push(serve);
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
  });

  after(async () => {
    await stopAll(...procs);
  });

  test('backups taken while serve takes overrides and a sync replaces the source are consistent', async () => {
    let stop = false;
    let made = 0;
    // A write that waits out SQLite's 5 s busy timeout while backups and shell syncs run fails
    // cleanly (503 / a failed sync) and is retried; counted and printed. Before write
    // transactions began IMMEDIATE, deferred ones failed at once with SQLITE_BUSY when another
    // process committed between their first read and first write (15 such in 60 ms in CI).
    let busy = 0;
    let busySyncs = 0;
    const problems: string[] = [];
    // Writer 1: overrides through the API of the running serve.
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        let r = await api('POST', '/api/v1/overrides', { action: 'deny', key: `2001:db8::${i.toString(16)}`, reason: `load ${i}` });
        // A busy database (another process's write lock held past the busy timeout) is a 503
        // with Retry-After: the client retries, as an API client should.
        for (let tries = 0; r.status === 503 && tries < 10; tries++) {
          busy++;
          await new Promise((res) => setTimeout(res, 1000)); // the 503's Retry-After: 1
          r = await api('POST', '/api/v1/overrides', { action: 'deny', key: `2001:db8::${i.toString(16)}`, reason: `load ${i}` });
        }
        if (r.status === 201) made++;
        else problems.push(`POST override ${i}: ${r.status} ${JSON.stringify(r.json)}`);
      }
    })();
    // Writer 2: `quorumbl sync` replacing the last good copy with a list of another size.
    const syncer = (async () => {
      for (let i = 1; !stop; i++) {
        writeFileSync(join(dir, 'list.txt'), list(3000 + 97 * i, i));
        const r = await runQuorumbl(['sync', '--config', cfg]);
        // A sync that waited out the busy timeout failed cleanly (the last good copy keeps
        // serving) and is simply run again by the next round, as the scheduler would.
        if (r.code !== 0 && /database is locked/.test(r.output)) busySyncs++;
        else if (r.code !== 0) problems.push(`sync ${i}: exit ${r.code}: ${r.output}`);
      }
    })();
    try {
      for (let b = 0; b < 3; b++) {
        const file = join(dir, `during-${b}.tar.gz`);
        const r = await runQuorumbl(['backup', file, '--config', cfg]);
        assert.equal(r.code, 0, r.output);
        assert.match(r.stdout, /backup written: .*during-\d\.tar\.gz/);
        // Unpack and check the copy against itself.
        const into = makeTmpDir('qbl-backup-check-');
        const fresh = writeConfig(into, 'state_dir: state\n');
        const res = await runQuorumbl(['restore', file, '--config', fresh]);
        assert.equal(res.code, 0, res.output);
        const db = new Database(join(into, 'state', 'quorumbl.sqlite'), { readonly: true });
        try {
          assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
          const src = db.prepare("SELECT entries FROM source_state WHERE name = 'trap'").get() as { entries: number };
          const lines = readFileSync(join(into, 'state', 'sources', 'trap', 'current'), 'utf8').trim().split('\n').length;
          assert.equal(src.entries, lines, 'the source row and its last good copy are from the same sync');
          const orphans = db.prepare(`SELECT o.key FROM overrides o WHERE NOT EXISTS
            (SELECT 1 FROM audit_log a WHERE a.target = o.key AND a.action LIKE 'override.%')`).all();
          assert.deepEqual(orphans, [], 'every override has its audit row');
          assert.equal(db.prepare('SELECT count(*) FROM sync_leases').pluck().get(), 0, 'no lease of the backup itself');
        } finally {
          db.close();
        }
      }
    } finally {
      stop = true;
      await Promise.all([writer, syncer]);
    }
    assert.deepEqual(problems, [], serve!.logs().filter((l) => (l.level ?? 0) >= 40).map((l) => JSON.stringify(l)).join('\n'));
    assert.ok(made > 0, 'the API took overrides during the backups');
    if (busy || busySyncs) process.stdout.write(`# database busy: ${busy} override POSTs got 503 and were retried, ${busySyncs} syncs failed cleanly and ran again\n`);
  });

  test('restored into a fresh directory, serve starts and answers as before', async () => {
    const names = [
      `${ip4Labels('192.0.2.9')}.bl.${BASE}`, `${ip4Labels('45.0.0.7')}.wl.${BASE}`, `${ip4Labels('45.0.0.7')}.bl.${BASE}`,
      `${ip4Labels('45.0.0.1')}.bl.${BASE}`, `${ip4Labels('45.0.0.1')}.trap.mirror.${BASE}`, `${ip4Labels('198.51.100.20')}.bl.${BASE}`,
      `${ip4Labels('192.0.2.150')}.bl.${BASE}`, `${ip4Labels('203.0.113.1')}.bl.${BASE}`, `2.0.0.127.trap.mirror.${BASE}`,
    ];
    // Quiet now: what the backup holds is what serve answers.
    await poll(async () => ((await ask(dns, `${ip4Labels('192.0.2.9')}.bl.${BASE}`)).startsWith('NOERROR 127.') ? true : undefined), 'the deny answered');
    const file = join(dir, 'quiet.tar.gz');
    const b = await runQuorumbl(['backup', file, '--config', cfg]);
    assert.equal(b.code, 0, b.output);
    const before = await Promise.all(names.map((n) => ask(dns, n)));
    assert.match(before[0]!, /^NOERROR 127\./, 'the deny override is listed');
    assert.match(before[4]!, /^NOERROR 127\.0\.0\.4/, 'the mirror answers the source');
    await stopAll(serve);
    const original = rows(join(dir, 'state', 'quorumbl.sqlite'));

    const into = makeTmpDir('qbl-restored-');
    const fresh = join(into, 'etc', 'quorumbl.yaml');
    const r = await runQuorumbl(['restore', file, '--config', fresh]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, new RegExp(`restored into ${join(into, 'etc', 'state').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(readFileSync(fresh, 'utf8'), readFileSync(cfg, 'utf8'), 'the config is back');
    const restoredDb = join(into, 'etc', 'state', 'quorumbl.sqlite');
    assert.deepEqual(rows(restoredDb), original, 'overrides, reputation, tokens, users, audit, source state equal');
    assert.equal(readFileSync(join(into, 'etc', 'state', 'sources', 'trap', 'current'), 'utf8'), readFileSync(join(dir, 'state', 'sources', 'trap', 'current'), 'utf8'));
    assert.equal(readFileSync(join(into, 'etc', 'state', 'providers', 'last-good', 'acme', 'outbound.json'), 'utf8'), '{"format":1,"ranges":["203.0.113.0/24"]}\n');

    serve = spawnQuorumbl(['serve', '--config', fresh]);
    procs.push(serve);
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (rec) => rec.msg === 'merged zones served', 'first merge', 60000);
    const after = await Promise.all(names.map((n) => ask(dns, n)));
    assert.deepEqual(after, before, 'dig answers equal');
    const list = await api('GET', '/api/v1/overrides');
    assert.equal(list.status, 200, 'the API token from before the backup works');
    assert.ok(JSON.stringify(list.json).includes('192.0.2.9'));
  });

  test('--dry-run lists what would be replaced and changes nothing', async () => {
    const file = join(dir, 'quiet.tar.gz');
    await stopAll(serve);
    const state = tree(join(dir, 'state'));
    const config = readFileSync(cfg);
    writeFileSync(cfg, config.toString() + '# edited after the backup\n');
    const r = await runQuorumbl(['restore', file, '--config', cfg, '--dry-run']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, new RegExp(`schema version ${MIGRATIONS.length} \\(this quorumbl: ${MIGRATIONS.length}\\)`));
    assert.match(r.stdout, /state dir .*state: would be replaced \(now: schema version \d+, \d+ files, .*\); the current one would be kept as .*state\.before-restore-/);
    assert.match(r.stdout, /^ {2}quorumbl\.sqlite\s+\d/m);
    assert.match(r.stdout, /^ {2}sources\/trap\/current\s+\d/m);
    assert.match(r.stdout, /config .*quorumbl\.yaml: would be replaced by the backup's; the current one would be kept as/);
    assert.match(r.stdout, /dry run: nothing changed/);
    assert.deepEqual(tree(join(dir, 'state')), state);
    assert.equal(readFileSync(cfg, 'utf8'), config.toString() + '# edited after the backup\n');
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('before-restore') || n.includes('.restore-')), []);
    writeFileSync(cfg, config);
  });

  test('a restore is refused while serve runs on the state directory, naming the process', async () => {
    const file = join(dir, 'quiet.tar.gz');
    const s = spawnQuorumbl(['serve', '--config', cfg]);
    procs.push(s);
    await waitReady(s, '127.0.0.1', dns, `bl.${BASE}`);
    const state = tree(join(dir, 'state'));
    const r = await runQuorumbl(['restore', file, '--config', cfg]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, new RegExp(`the state directory .*state is in use: pid ${s.pid} \\(quorumbl serve --config`));
    assert.match(r.stderr, /stop quorumbl serve/);
    await stopAll(s);
    // Nothing replaced (serve's own shutdown may checkpoint the WAL: compare the data, not bytes).
    // serve.pid and reload.json belong to the running serve (it removes its pid file at exit).
    const kept = (f: string) => !f.startsWith('quorumbl.sqlite') && f !== 'serve.pid' && f !== 'reload.json';
    assert.deepEqual(Object.keys(tree(join(dir, 'state'))).filter(kept), Object.keys(state).filter(kept));
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('before-restore') || n.includes('.restore-')), []);
  });

  test('a backup from a newer schema is refused, naming both versions', async () => {
    const file = join(dir, 'newer.tar');
    await rewrite(join(dir, 'quiet.tar.gz'), file, (name, data) => {
      if (name !== 'manifest.json') return data;
      const m = JSON.parse(data.toString());
      m.schema_version = MIGRATIONS.length + 1;
      m.quorumbl_version = '9.9.9';
      return Buffer.from(JSON.stringify(m));
    });
    const state = tree(join(dir, 'state'));
    for (const dry of [true, false]) {
      const r = await runQuorumbl(['restore', file, '--config', cfg, ...(dry ? ['--dry-run'] : [])]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, new RegExp(`newer\\.tar has schema version ${MIGRATIONS.length + 1} \\(made by quorumbl 9\\.9\\.9\\); this quorumbl knows schema version ${MIGRATIONS.length}`));
    }
    assert.deepEqual(tree(join(dir, 'state')), state);
  });

  test('a damaged archive is refused naming the archive and the file; the state stays', async () => {
    const state = tree(join(dir, 'state'));
    const flipped = join(dir, 'flipped.tar');
    await rewrite(join(dir, 'quiet.tar.gz'), flipped, (name, data) => {
      if (name === 'state/sources/trap/current') data[data.length >> 1] ^= 0x01;
      return data;
    });
    let r = await runQuorumbl(['restore', flipped, '--config', cfg]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /backup .*flipped\.tar is damaged: state\/sources\/trap\/current does not match its SHA-256 in the manifest/);

    const cut = join(dir, 'cut.tar.gz');
    const whole = readFileSync(join(dir, 'quiet.tar.gz'));
    writeFileSync(cut, whole.subarray(0, whole.length >> 1));
    r = await runQuorumbl(['restore', cut, '--config', cfg]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /backup .*cut\.tar\.gz is damaged: /);

    const foreign = join(dir, 'foreign.tar.gz');
    writeFileSync(foreign, 'not an archive at all'.repeat(40));
    r = await runQuorumbl(['restore', foreign, '--config', cfg, '--dry-run']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /backup .*foreign\.tar\.gz is damaged: /);
    assert.deepEqual(tree(join(dir, 'state')), state);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('before-restore') || n.includes('.restore-')), []);
  });

  test('a restore killed after staging leaves the old state; killed between its renames, the next restore finishes it', async () => {
    const file = join(dir, 'quiet.tar.gz');
    const into = makeTmpDir('qbl-crash-');
    const fresh = writeConfig(into, configText(dir, dns, webPort));
    writeFileSync(join(into, 'marker'), '');
    // An "old" state there: an empty state database with one override.
    mkdirSync(join(into, 'state'));
    assert.equal((await runQuorumbl(['override', 'add', 'deny', '192.0.2.200', '--reason', 'old state', '--config', fresh])).code, 0);
    // The old state: its files byte for byte, its database row for row (a restore killed while it
    // holds its lock may leave an empty -wal beside it).
    const oldOf = (d: string) => ({
      files: Object.fromEntries(Object.entries(tree(d)).filter(([f]) => !f.startsWith('quorumbl.sqlite'))),
      rows: rows(join(d, 'quorumbl.sqlite')),
    });
    const old = oldOf(join(into, 'state'));

    let r = await runQuorumbl(['restore', file, '--config', fresh], { env: { QBL_TEST_RESTORE_CRASH_AT: 'staged' } });
    assert.equal(r.code, null, 'killed');
    assert.deepEqual(oldOf(join(into, 'state')), old, 'killed after staging: the old state, untouched');

    r = await runQuorumbl(['restore', file, '--config', fresh], { env: { QBL_TEST_RESTORE_CRASH_AT: 'old-moved' } });
    assert.equal(r.code, null, 'killed');
    assert.equal(existsSync(join(into, 'state')), false, 'killed between the renames: no state dir');
    r = await runQuorumbl(['restore', file, '--config', fresh, '--dry-run']);
    assert.equal(r.code, 0, r.output);
    r = await runQuorumbl(['restore', file, '--config', fresh]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stderr, /finished an interrupted restore/);
    assert.match(r.stderr, /removed the staging directory of an interrupted restore/);
    const db = new Database(join(into, 'state', 'quorumbl.sqlite'), { readonly: true });
    try {
      assert.equal(db.prepare("SELECT count(*) FROM overrides WHERE key = '192.0.2.9'").pluck().get(), 1, 'the restored state');
    } finally {
      db.close();
    }
    const kept = readdirSync(into).filter((n) => n.startsWith('state.before-restore-'));
    assert.ok(kept.length >= 1, `the old state kept: ${readdirSync(into)}`);
    assert.deepEqual(oldOf(join(into, kept.sort()[0]!)), old, 'the first of them is the old state, intact');
    assert.deepEqual(readdirSync(into).filter((n) => n.includes('.restore-')), [], 'no staging or journal left');
  });
});

describe('backup on a full disk', { skip: skip || tmpfsOrSkip() }, () => {
  test('a clear error, no partial FILE, an older FILE untouched', async () => {
    const dir = makeTmpDir('qbl-backup-full-');
    writeFileSync(join(dir, 'list.txt'), list(20_000));
    const cfg = writeConfig(dir, configText(dir, await freePort(), await freePort()));
    assert.equal((await runQuorumbl(['sync', '--config', cfg])).code, 0);
    const mnt = tmpfs('512k');
    const file = join(mnt, 'backup.tar');
    writeFileSync(file, 'the previous backup');
    fill(join(mnt, 'filler'));
    const r = await runQuorumbl(['backup', file, '--config', cfg]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /cannot write the backup .*backup\.tar: no space left on the device \((ENOSPC|SQLITE_FULL)\); nothing was written/);
    assert.equal(readFileSync(file, 'utf8'), 'the previous backup');
    assert.deepEqual(readdirSync(mnt).sort(), ['backup.tar', 'filler']);
    // With room again, the same command works.
    writeFileSync(join(mnt, 'filler'), '');
    const ok = await runQuorumbl(['backup', join(mnt, 'b.tar.gz'), '--config', cfg]);
    assert.equal(ok.code, 0, ok.output);
  });
});
