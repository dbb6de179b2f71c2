// Guarded overrides and honest scores against a real `quorumbl serve`, checked with `dig`:
//   - a deny of 0.0.0.0/0 through the API: an `overrides` token is refused (403 naming the limit)
//     and DNS does not change; an admin token with "force": true lists the whole Internet in bl,
//     and the audit log records it as forced with its width
//   - the CLI needs --force for `*.com` (it is the local admin), and a running serve picks it up
//   - three spam reports of weight 1 (separate CLI processes, seconds apart) reach a bar of 3:
//     dig and explain agree, explain shows 3.0 >= bar 3.0; every report is audited
//   - explain of a bad key: API 400 naming the field, CLI exit 2 with a one-line message

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import {
  digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip,
  waitForLog, waitReady, writeConfig, type Proc,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const BASE = 'dnsbl.test';

async function ask(port: number, name: string): Promise<{ status: string; a: string[] }> {
  const r = await digRaw('127.0.0.1', port, [name, 'A']);
  const rep = r.replies[0]!;
  return { status: rep.status, a: rep.answer.filter((x) => x.type === 'A').map((x) => x.data).sort() };
}

async function token(cfg: string, name: string, scope: string): Promise<string> {
  const r = await runQuorumbl(['token', 'create', '--name', name, '--scope', scope, '--config', cfg]);
  assert.equal(r.code, 0, r.output);
  return r.stdout.trim();
}

describe('guarded overrides and honest scores on a real serve', { skip }, () => {
  let cfg: string;
  let dns: number;
  let web: string;
  let serve: Proc | undefined;
  const tok = { admin: '', overrides: '' };

  const call = async (t: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(web + path, {
      method,
      headers: { authorization: `Bearer ${t}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const bl = (ip: string) => `${ip4Labels(ip)}.bl.${BASE}`;

  before(async () => {
    const dir = makeTmpDir();
    dns = await freePort();
    const webPort = await freePort();
    web = `http://127.0.0.1:${webPort}`;
    cfg = writeConfig(dir, [
      `server: { listen: ["127.0.0.1:${dns}"] }`,
      `web: { listen: "127.0.0.1:${webPort}" }`,
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'policy: { reputation: { bar: 3 } }',
      'providers: []',
      '',
    ].join('\n'));
    tok.admin = await token(cfg, 'root', 'admin');
    tok.overrides = await token(cfg, 'helpdesk', 'overrides');
    serve = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 30000);
  });

  after(async () => {
    await stopAll(serve);
  });

  test('three spam reports of weight 1, seconds apart, reach a bar of 3: dig and explain agree', async () => {
    const ip = '192.0.2.77';
    for (let i = 0; i < 3; i++) {
      const r = await runQuorumbl(['report', ip, '--kind', 'spam', '--config', cfg]);
      assert.equal(r.code, 0, r.output);
    }
    // The CLI is another process: serve sees its commits within its 1 s poll.
    const a = await poll(async () => {
      const x = await ask(dns, bl(ip));
      return x.a.length ? x.a : undefined;
    }, `${ip} listed after three reports`);
    assert.deepEqual(a, ['127.0.0.4']);
    const why = await call(tok.admin, 'GET', `/api/v1/explain/${ip}`);
    assert.equal(why.status, 200);
    assert.equal(why.json.block, true);
    assert.equal(why.json.reputation.score, 3);
    assert.ok(why.json.arithmetic.includes('local score 3.0 >= bar 3.0'), why.json.arithmetic.join('\n'));
    const audit = await call(tok.admin, 'GET', `/api/v1/audit?target=${ip}`);
    assert.deepEqual(audit.json.entries.map((e: any) => [e.action, e.actor]), new Array(3).fill(['reputation.report', `cli:${userInfo().username}`]));
  });

  test('explain of a bad key: API 400 naming the key, CLI exit 2 with one line', async () => {
    for (const bad of ['not..a..key', '192.0.2.0%2F24']) {
      const r = await call(tok.admin, 'GET', `/api/v1/explain/${bad}`);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.field, 'key');
    }
    const c = await runQuorumbl(['explain', 'not..a..key', '--config', cfg]);
    assert.equal(c.code, 2, c.output);
    assert.equal(c.stderr, 'explain: key "not..a..key": empty label (two dots in a row, or a leading dot)\n');
  });

  test('deny 0.0.0.0/0: refused for an overrides token (DNS unchanged), listed everywhere when an admin forces it, audited as forced', async () => {
    const probe = ['203.0.113.9', '198.51.100.1', '8.8.8.8'];
    // Not listed: NXDOMAIN, or NODATA where the name is also an IPv6 nibble prefix (8.8.8.8: an
    // empty non-terminal, RFC 8020); either way no A record for the MTA.
    const notListed = async (ip: string, why: string) => {
      const r = await ask(dns, bl(ip));
      assert.ok(r.status === 'NXDOMAIN' || (r.status === 'NOERROR' && r.a.length === 0), `${ip} ${why}: ${r.status} ${r.a}`);
    };
    for (const ip of probe) await notListed(ip, 'before');
    const body = { action: 'deny', key: '0.0.0.0/0', reason: 'drill', expires: '1h' };
    const r1 = await call(tok.overrides, 'POST', '/api/v1/overrides', body);
    assert.equal(r1.status, 403);
    assert.match(r1.json.error, /wider than the limit \/16 \(policy\.override_limits\.v4\).*token 'helpdesk' has scope 'overrides'/);
    const r2 = await call(tok.overrides, 'POST', '/api/v1/overrides', { ...body, force: true });
    assert.equal(r2.status, 403);
    for (const ip of probe) await notListed(ip, 'after the refusals');

    const ok = await call(tok.admin, 'POST', '/api/v1/overrides', { ...body, force: true });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    // In the very next answer: the API returns after the overlay swap.
    for (const ip of probe) assert.deepEqual((await ask(dns, bl(ip))).a, ['127.0.0.5'], ip);
    const audit = await call(tok.admin, 'GET', '/api/v1/audit?target=0.0.0.0/0');
    assert.deepEqual(audit.json.entries.map((e: any) => [e.action, e.actor, e.after.forced, e.after.width, e.after.limit]), [
      ['override.add', 'token:root', true, '/0 (all of IPv4)', '/16 (policy.override_limits.v4)'],
    ]);
    assert.equal((await call(tok.overrides, 'DELETE', `/api/v1/overrides/${ok.json.override.id}`)).status, 200, 'removing is never guarded');
    for (const ip of probe) await notListed(ip, 'after the removal');
  });

  test('the CLI needs --force for *.com; serve picks the forced override up', async () => {
    const name = `spam-host.com.dbl.${BASE}`;
    const no = await runQuorumbl(['override', 'add', 'deny', '*.com', '--reason', 'drill', '--config', cfg]);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /^deny \*\.com covers every name below the public suffix com, wider than one registrable domain \(Public Suffix List\): it needs force/);
    const yes = await runQuorumbl(['override', 'add', 'deny', '*.com', '--reason', 'drill', '--expires', '1h', '--force', '--config', cfg]);
    assert.equal(yes.code, 0, yes.output);
    const a = await poll(async () => {
      const x = await ask(dns, name);
      return x.a.length ? x.a : undefined;
    }, 'the forced *.com deny reaches serve');
    assert.deepEqual(a, ['127.0.1.5']);
    const audit = await call(tok.admin, 'GET', '/api/v1/audit?target=*.com');
    assert.equal(audit.json.entries[0].after.forced, true);
    assert.equal(audit.json.entries[0].actor, `cli:${userInfo().username}`);
  });
});
