// Every recipe in docs/integration.md, fed as written to the real software's own checker:
// unbound-checkconf, named-checkconf, Knot Resolver loading its config, `postfix check` and
// `postconf -n` on a private Postfix instance, `exim -bV`, `rspamadm configtest`,
// `spamassassin --lint`. Each checker is also shown a copy with one deliberate mistake and must
// reject it, so a checker that accepts anything cannot pass for a check. The live run of the same
// recipes (postscreen, smtpd, Exim, the three resolvers) is postscreen.test.ts.
//
// Checkers that could reach the network (kresd primes the root, rspamd resolves its fuzzy
// servers, SpamAssassin may query DNS) run in an empty network namespace (`unshare --net`).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTmpDir, toolsOrSkip } from './helpers.ts';
import {
  BASE, EXIM, eximUserArgs, recipe, recipes, writeEximConfig, writeEximUserFiles, writePostfixInstance, writeRspamdLocal,
  writeSpamAssassinSite,
} from './recipes.ts';

const TOOLS = ['unshare', 'unbound-checkconf', 'named-checkconf', 'kresd', 'postfix', 'postconf', 'rspamadm', 'spamassassin'];

function rootAndEximOrSkip(): false | string {
  const why = process.getuid?.() !== 0 ? 'needs root (unshare, a private Postfix instance)' : !existsSync(EXIM) ? `no exim binary at ${EXIM} (.ci/run unpacks exim4-daemon-light there)` : '';
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}
const skip = toolsOrSkip(TOOLS) || rootAndEximOrSkip();

interface Run {
  code: number;
  out: string;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const c = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof c === 'number' ? c : 1, out: `${stdout}${stderr}` });
    });
  });
}

/** One recipe file through a checker: the doc's text passes, the broken copy fails. */
async function checks(
  what: string,
  good: string,
  bad: string,
  check: (text: string, dir: string) => Promise<{ ok: boolean; out: string }>,
): Promise<void> {
  assert.notEqual(good, bad, `${what}: the deliberate mistake must change the text`);
  const g = await check(good, makeTmpDir('quorumbl-recipe-'));
  assert.ok(g.ok, `${what}: the checker rejects the recipe from docs/integration.md:\n${good}\n--- checker output ---\n${g.out}`);
  const b = await check(bad, makeTmpDir('quorumbl-recipe-'));
  assert.ok(!b.ok, `${what}: the checker accepted a broken copy, so it checks nothing:\n${bad}\n--- checker output ---\n${b.out}`);
}

describe('docs/integration.md recipes pass the real checkers', { skip }, () => {
  test('every tagged block the tests rely on is in the doc', () => {
    for (const tag of ['unbound.conf', 'kresd.conf', 'postfix-master.cf', 'exim-acl', 'rspamd-rbl.conf', 'rspamd-rbl_group.conf', 'rspamd-options.inc', 'spamassassin-local.cf']) {
      assert.ok(recipe(tag).includes(BASE) || tag === 'postfix-master.cf' || tag === 'rspamd-rbl_group.conf' || tag === 'rspamd-options.inc', tag);
    }
    assert.equal(recipes('bind-named.conf').length, 2, 'BIND: a forward zone and a static-stub zone');
    assert.equal(recipes('postfix-main.cf').length, 2, 'Postfix: postscreen and smtpd blocks');
  });

  test('Unbound: unbound-checkconf', async () => {
    await checks('unbound.conf', recipe('unbound.conf'), recipe('unbound.conf').replace('stub-addr:', 'stub-adr:'), async (text, dir) => {
      const f = join(dir, 'unbound.conf');
      writeFileSync(f, text);
      const r = await run('unbound-checkconf', [f]);
      return { ok: r.code === 0 && /no errors/.test(r.out), out: r.out };
    });
  });

  for (const [i, block] of recipes('bind-named.conf').entries()) {
    const kind = /type\s+(\S+);/.exec(block)?.[1] ?? `#${i}`;
    test(`BIND (${kind}): named-checkconf with validate-except in options`, async () => {
      await checks(`bind-named.conf ${kind}`, block, block.replace(/;\s*\n\s*};\s*$/, '\n};\n'), async (text, dir) => {
        const f = join(dir, 'named.conf');
        writeFileSync(f, `options {\n    directory "${dir}";\n    validate-except { "${BASE}"; };\n};\n\n${text}`);
        const r = await run('named-checkconf', [f]);
        return { ok: r.code === 0, out: r.out };
      });
    });
  }

  test('Knot Resolver: kresd loads the config (then quits), in an empty network namespace', async () => {
    const bad = recipe('kresd.conf').replace('policy.STUB', 'policy.STUBB');
    await checks('kresd.conf', recipe('kresd.conf'), bad, async (text, dir) => {
      const f = join(dir, 'kresd.conf');
      writeFileSync(f, `${text}\nquit()\n`);
      const r = await run('unshare', ['--net', 'kresd', '--noninteractive', '-c', f, dir], { timeoutMs: 30000 });
      return { ok: r.code === 0 && !/error while loading config/.test(r.out), out: r.out };
    });
  });

  test('Postfix: postfix check and postconf -n on a private instance with both main.cf blocks and the master.cf block', async () => {
    const main = recipes('postfix-main.cf');
    const check = async (dir: string): Promise<{ ok: boolean; out: string }> => {
      const pf = writePostfixInstance(dir, { inetInterfaces: 'loopback-only' });
      const c = await run('postfix', ['-c', pf.configDir, 'check']);
      const n = await run('postconf', ['-c', pf.configDir, '-n']);
      const m = await run('postconf', ['-c', pf.configDir, '-M']);
      // postconf warns about parameters it does not know ("unused parameter"); those are typos
      const ok = c.code === 0 && n.code === 0 && m.code === 0 && !/warning/.test(n.out + m.out);
      return { ok, out: `postfix check (${c.code}): ${c.out}\npostconf -n (${n.code}):\n${n.out}\npostconf -M (${m.code}):\n${m.out}` };
    };
    const good = await check(makeTmpDir('quorumbl-recipe-'));
    assert.ok(good.ok, good.out);
    for (const key of ['postscreen_dnsbl_sites', 'postscreen_dnsbl_threshold', 'postscreen_dnsbl_allowlist_threshold', 'smtpd_recipient_restrictions']) {
      assert.match(good.out, new RegExp(`^${key} = `, 'm'), `postconf -n shows ${key}`);
    }
    assert.match(good.out, /bl\.dnsbl\.internal=127\.0\.0\.5\*8/, 'the postscreen weights are what Postfix reads');
    assert.match(good.out, /^smtp\s+inet\s.*postscreen/m, 'master.cf: postscreen on smtp');
    // the broken copy: a misspelt parameter name is a warning postconf must print
    const badDir = makeTmpDir('quorumbl-recipe-');
    const pf = writePostfixInstance(badDir, { inetInterfaces: 'loopback-only', mainExtra: [main[0]!.replace('postscreen_dnsbl_threshold', 'postscreen_dnsbl_treshold')] });
    const n = await run('postconf', ['-c', pf.configDir, '-n']);
    assert.match(n.out, /warning: .*unused parameter: postscreen_dnsbl_treshold/, n.out);
  });

  test('Exim: exim -bV reads the ACL (the binary unpacked from exim4-daemon-light)', async () => {
    const users = writeEximUserFiles(makeTmpDir('quorumbl-recipe-'));
    await checks('exim-acl', recipe('exim-acl'), recipe('exim-acl').replace('deny    dnslists', 'denny   dnslists'), async (text, dir) => {
      const conf = writeEximConfig(dir, text);
      const [cmd, args] = eximUserArgs(users, [EXIM, '-bV', '-C', conf]);
      const r = await run(cmd, args);
      return { ok: r.code === 0 && /Configuration file is/.test(r.out), out: r.out };
    });
  });

  test('rspamd: rspamadm configtest with the local.d files (no "invalid config", no RBL disabled)', async () => {
    const bad = recipe('rspamd-rbl.conf').replace('checks = ["from"];           # the connecting IP', 'checks = ["form"];');
    await checks('rspamd local.d', recipe('rspamd-rbl.conf'), bad, async (text, dir) => {
      writeRspamdLocal(dir, { 'rbl.conf': text });
      const r = await run('unshare', ['--net', 'rspamadm', `--var=LOCAL_CONFDIR=${dir}`, 'configtest']);
      const ok = r.code === 0 && /syntax OK/.test(r.out) && !/invalid config|DISABLED|cannot (load|parse) .*local\.d/i.test(r.out);
      return { ok, out: r.out };
    });
  });

  test('SpamAssassin: spamassassin --lint with the rules in local.cf', async () => {
    const bad = recipe('spamassassin-local.cf').replace("eval:check_rbl_sub('quorumbl-lastexternal', '127.0.0.5')", "eval:check_rbl_sub('quorumbl-lastexternal', '127.0.0.5'");
    await checks('spamassassin-local.cf', recipe('spamassassin-local.cf'), bad, async (text, dir) => {
      const site = writeSpamAssassinSite(join(dir, 'site'), text);
      mkdirSync(join(dir, 'home'), { recursive: true });
      const r = await run('unshare', ['--net', 'spamassassin', '--lint', `--siteconfigpath=${site}`], { env: { ...process.env, HOME: join(dir, 'home') } });
      return { ok: r.code === 0 && !/warn: /.test(r.out), out: r.out };
    });
  });
});
