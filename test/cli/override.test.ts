import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../core/db.ts';
import { readAudit } from '../../sync/local/audit.ts';
import { overrideCommand } from '../../cli/override.ts';
import { tokenCommand } from '../../cli/token.ts';
import { Tokens } from '../../sync/local/tokens.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');

function ctx(dbPath: string, user = 'alice') {
  const o = { out: '', err: '' };
  return { o, ctx: { dbPath, user, now: () => T0, out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
}

const newDb = () => join(mkdtempSync(join(tmpdir(), 'qbl-cli-')), 'state.sqlite');

test('override add, list, expire, rm; the audit log names the OS user (cli:<user>)', async () => {
  const dbPath = newDb();
  let c = ctx(dbPath);
  assert.equal(await overrideCommand(['add', 'deny', '192.0.2.0/24', '--reason', 'snowshoe spam', '--expires', '2d'], c.ctx), 0, c.o.err);
  assert.equal(c.o.out, 'added override #1: deny 192.0.2.0/24 (snowshoe spam; by alice, expires 2025-03-03T12:00:00.000Z)\n');
  c = ctx(dbPath);
  assert.equal(await overrideCommand(['add', 'allow', '*.Partner.example', '-r', 'partner', '--author', 'bob'], c.ctx), 0, c.o.err);
  c = ctx(dbPath);
  assert.equal(await overrideCommand(['list'], c.ctx), 0);
  const lines = c.o.out.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+ACTION\s+KEY\s+EXPIRES\s+AUTHOR\s+CREATED\s+REASON$/);
  assert.match(lines[1]!, /^1\s+deny\s+192\.0\.2\.0\/24\s+2025-03-03T12:00Z\s+alice\s+2025-03-01T12:00Z\s+snowshoe spam$/);
  assert.match(lines[2]!, /^2\s+allow\s+\*\.partner\.example\s+never\s+bob\s+2025-03-01T12:00Z\s+partner$/);
  c = ctx(dbPath);
  assert.equal(await overrideCommand(['list', '--json'], c.ctx), 0);
  assert.deepEqual((JSON.parse(c.o.out) as { key: string }[]).map((x) => x.key), ['192.0.2.0/24', '*.partner.example']);
  c = ctx(dbPath, 'carol');
  assert.equal(await overrideCommand(['expire', '1', 'never'], c.ctx), 0, c.o.err);
  assert.equal(c.o.out, 'override #1 never expires\n');
  c = ctx(dbPath, 'dave');
  assert.equal(await overrideCommand(['rm', '2'], c.ctx), 0);
  assert.equal(c.o.out, 'removed override #2: allow *.partner.example (partner; by bob)\n');
  const db = openDb(dbPath);
  assert.deepEqual(readAudit(db).map((e) => [e.action, e.actor, e.target]), [
    ['override.remove', 'cli:dave', '*.partner.example'],
    ['override.expiry', 'cli:carol', '192.0.2.0/24'],
    ['override.add', 'cli:alice', '*.partner.example'],
    ['override.add', 'cli:alice', '192.0.2.0/24'],
  ]);
  db.close();
});

test('override errors: usage (exit 2), bad input and conflicts (exit 1) with what is wrong', async () => {
  const dbPath = newDb();
  const run = async (args: string[]) => {
    const c = ctx(dbPath);
    const code = await overrideCommand(args, c.ctx);
    return { code, ...c.o };
  };
  assert.equal((await run(['add', 'deny', '192.0.2.1'])).code, 2);
  assert.match((await run(['add', 'deny', '192.0.2.1'])).err, /needs --reason/);
  assert.match((await run(['add', 'deny', '192.0.2.1', '--reason', 'r', '--bogus'])).err, /unknown option '--bogus'/i);
  assert.match((await run(['add', 'deny', '192.0.2.1', 'extra', '--reason', 'r'])).err, /unexpected argument 'extra'/);
  const bad = await run(['add', 'deny', '192.0.2.1/24', '--reason', 'r']);
  assert.equal(bad.code, 1);
  assert.equal(bad.err, 'key "192.0.2.1/24": host bits are set; the network is 192.0.2.0/24\n');
  assert.match((await run(['add', 'block', '192.0.2.1', '--reason', 'r'])).err, /action must be 'allow' or 'deny'/);
  assert.match((await run(['add', 'deny', '192.0.2.1', '--reason', 'r', '--expires', 'soon'])).err, /neither a duration/);
  assert.equal((await run(['add', 'deny', '192.0.2.1', '--reason', 'r'])).code, 0);
  const dup = await run(['add', 'allow', '192.0.2.1', '--reason', 'r']);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /already has an override \(#1, deny: r\)/);
  assert.equal((await run(['add', 'allow', '192.0.2.1', '--reason', 'r', '--replace'])).code, 0);
  assert.match((await run(['rm', '42'])).err, /there is no override #42/);
  assert.equal((await run(['rm', 'x'])).code, 2);
  assert.equal((await run(['frobnicate'])).code, 2);
  assert.match((await run(['list'])).out, /^1\s+allow\s+192\.0\.2\.1 /m);
});

test('a wide override needs --force (the CLI is the local admin); the limits come from the config; forced is audited', async () => {
  const dbPath = newDb();
  const run = async (args: string[], limits?: { v4: number; v6: number }) => {
    const c = ctx(dbPath);
    const code = await overrideCommand(args, { ...c.ctx, limits });
    return { code, ...c.o };
  };
  const no = await run(['add', 'deny', '0.0.0.0/0', '--reason', 'oops']);
  assert.equal(no.code, 1);
  assert.equal(no.err, 'deny 0.0.0.0/0 covers /0 (all of IPv4), wider than the limit /16 (policy.override_limits.v4): it needs force (CLI --force, API "force": true) by an admin\n');
  assert.match((await run(['add', 'deny', '*.co.uk', '--reason', 'r'])).err, /every name below the public suffix co\.uk/);
  assert.equal((await run(['add', 'deny', '10.0.0.0/12', '--reason', 'r'], { v4: 8, v6: 32 })).code, 0, 'within a configured limit of /8');
  assert.equal((await run(['add', 'deny', '10.0.0.0/7', '--reason', 'r'], { v4: 8, v6: 32 })).code, 1);
  const yes = await run(['add', 'deny', '0.0.0.0/0', '--reason', 'drill', '--expires', '1h', '--force']);
  assert.equal(yes.code, 0, yes.err);
  assert.match((await run(['expire', '2', 'never'])).err, /^extending deny 0\.0\.0\.0\/0 covers/);
  assert.equal((await run(['expire', '2', 'never', '--force'])).code, 0);
  const db = openDb(dbPath);
  const a = readAudit(db);
  assert.deepEqual(a.map((e) => [e.action, e.actor, e.target, (e.after as { forced?: boolean }).forced ?? false]), [
    ['override.expiry', 'cli:alice', '0.0.0.0/0', true],
    ['override.add', 'cli:alice', '0.0.0.0/0', true],
    ['override.add', 'cli:alice', '10.0.0.0/12', false],
  ]);
  assert.equal((a[1]!.after as { width: string }).width, '/0 (all of IPv4)');
  db.close();
});

test('token create prints the secret once; list, revoke; only the hash is stored', async () => {
  const dbPath = newDb();
  let c = ctx(dbPath);
  assert.equal(await tokenCommand(['create', '--name', 'rspamd', '--scope', 'reports'], c.ctx), 0, c.o.err);
  const secret = c.o.out.trim();
  assert.match(secret, /^qbl_[A-Za-z0-9_-]{43}$/);
  assert.match(c.o.err, /shown only this once/);
  c = ctx(dbPath);
  assert.equal(await tokenCommand(['create', '--name', 'rspamd', '--scope', 'reports'], c.ctx), 1);
  assert.match(c.o.err, /already exists/);
  c = ctx(dbPath);
  assert.equal(await tokenCommand(['create', '--name', 'x', '--scope', 'root'], c.ctx), 1);
  assert.match(c.o.err, /scope must be one of reports, overrides, admin/);
  c = ctx(dbPath);
  assert.equal(await tokenCommand(['list'], c.ctx), 0);
  assert.match(c.o.out, /^1\s+rspamd\s+reports\s+2025-03-01T12:00:00Z\s+-\s+-$/m);
  assert.ok(!c.o.out.includes(secret));
  const db = openDb(dbPath);
  const dump = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
  assert.ok(!dump.includes(secret.slice(4)), 'the secret is not in the database');
  assert.equal(new Tokens(db).verify(secret)?.name, 'rspamd');
  c = ctx(dbPath);
  assert.equal(await tokenCommand(['revoke', 'rspamd'], c.ctx), 0);
  assert.equal(new Tokens(db).verify(secret), null);
  c = ctx(dbPath);
  assert.equal(await tokenCommand(['revoke', 'rspamd'], c.ctx), 1);
  assert.deepEqual(readAudit(db).map((e) => [e.action, e.actor]), [['token.revoke', 'cli:alice'], ['token.create', 'cli:alice']]);
  db.close();
});
