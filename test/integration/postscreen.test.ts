// The whole mail path of docs/integration.md, live, in a network namespace this test creates:
//
//   swaks (192.0.2.66 denied, 198.51.100.7 clean) ─▶ Postfix postscreen + smtpd on 192.0.2.25:25
//     ─▶ /etc/netns/NS/resolv.conf ─▶ Unbound on 127.0.0.1:53 ─stub─▶ quorumbl serve on 10.0.0.53:53
//
// plus BIND (forward and static-stub zones) and Knot Resolver with the doc's recipes, and Exim's
// ACL from the doc run with `exim -bh`. Every address lives on the namespace's own loopback
// interface: nothing touches the host's network, its resolver or its Postfix (a private instance
// with its own config, queue and data directories). The namespace, every process in it, the
// temp dirs and /etc/netns/NS are removed at the end, also when a step fails.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN, makeTmpDir, parseDig, poll, Proc, runQuorumbl, stopAll, toolsOrSkip, txtStrings, writeConfig, type DigReply,
} from './helpers.ts';
import {
  BASE, EXIM, eximUserArgs, recipe, recipes, writeEximConfig, writeEximUserFiles, writePostfixInstance,
} from './recipes.ts';

const NS = `qbl-mta-${process.pid}`;
const QUORUMBL = '10.0.0.53'; // the doc's address for quorumbl
const MX = '192.0.2.25';
const DENIED = '192.0.2.66';
const CLEAN = '198.51.100.7';
const SPAM_DOMAIN = 'spam.example';
const UNSEEN = '203.0.113.9'; // connects only after quorumbl is stopped: nothing cached for it
const RESOLVERS = {
  unbound: '127.0.0.1', // the MTA host's resolver: resolv.conf points here
  'bind-forward': '127.0.0.2',
  'bind-static-stub': '127.0.0.3',
  kresd: '127.0.0.4',
} as const;

function rootOrSkip(): false | string {
  const why = process.getuid?.() !== 0 ? 'needs root (ip netns, a private Postfix instance)' : !existsSync(EXIM) ? `no exim binary at ${EXIM}` : '';
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}
const skip = toolsOrSkip(['ip', 'unshare', 'dig', 'unbound', 'unbound-checkconf', 'named', 'kresd', 'postfix', 'swaks']) || rootOrSkip();

// ---------------------------------------------------------------------------------------------
// The namespace and its removal

let nsCreated = false;
const netnsEtc = `/etc/netns/${NS}`;

/** Removes everything the test created in the system (idempotent; also runs at process exit). */
function removeNamespace(): void {
  if (nsCreated) {
    // every process in the namespace was started by this test
    let pids: string[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', NS], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    } catch {
      /* namespace already gone */
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
    nsCreated = false;
  }
  rmSync(netnsEtc, { recursive: true, force: true });
}
process.on('exit', removeNamespace);

function inNs(cmd: string, args: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', NS, cmd, ...args]];
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out: stdout + stderr, stdout });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** dig inside the namespace; recursive (as an MTA's stub resolver asks) unless norec. */
async function nsDig(server: string, name: string, type = 'A', norec = false): Promise<DigReply> {
  const [cmd, args] = inNs('dig', [`@${server}`, '+time=2', '+tries=1', '+nocookie', ...(norec ? ['+norec'] : []), name, type]);
  const out = await new Promise<string>((resolve) => execFile(cmd, args, { timeout: 15000 }, (_e, stdout, stderr) => resolve(stdout + stderr)));
  const r = parseDig(out);
  if (r.length !== 1) throw new Error(`dig @${server} ${name} ${type} in ${NS}: no reply\n${out}`);
  return r[0]!;
}

const aOf = (r: DigReply) => r.answer.filter((x) => x.type === 'A').map((x) => x.data).sort();
const txtOf = (r: DigReply) => r.answer.filter((x) => x.type === 'TXT').map((x) => txtStrings(x.data).join(''));
const rev = (ip: string) => ip.split('.').reverse().join('.');

/** The SMTP replies swaks printed (`<-  250 ...`, `<** 550 ...`), in order. */
function smtpReplies(out: string): string[] {
  return out.split('\n').filter((l) => /^<(-|\*\*) /.test(l)).map((l) => l.replace(/^<(-|\*\*)\s+/, ''));
}

// ---------------------------------------------------------------------------------------------

describe('postscreen, smtpd, Exim and three resolvers with the doc recipes, in a network namespace', { skip }, () => {
  const procs: Proc[] = [];
  let dir = '';
  let cfg = '';
  let maillog = '';
  let deniedTxt = '';
  let spamTxt = '';
  let postfix: Proc | undefined;
  let serve: Proc | undefined;

  const start = (name: string, cmd: string, args: string[]): Proc => {
    const [c, a] = inNs(cmd, args);
    const p = new Proc(name, c, a, { cwd: dir });
    procs.push(p);
    return p;
  };
  const waitDns = (p: Proc, server: string) =>
    poll(
      async () => {
        if (p.exitStatus) throw new Error(`${p.name} exited: ${p.tail()}`);
        const r = await nsDig(server, `2.0.0.127.bl.${BASE}`, 'A', server === QUORUMBL);
        return r.status === 'NOERROR' ? true : undefined;
      },
      `${p.name} answering on ${server}`,
      { timeoutMs: 60000, describe: () => p.tail(3000) },
    );
  const log = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');

  before(async () => {
    dir = makeTmpDir('quorumbl-mta-');
    execFileSync('ip', ['netns', 'add', NS]);
    nsCreated = true;
    mkdirSync(netnsEtc, { recursive: true });
    writeFileSync(join(netnsEtc, 'resolv.conf'), `nameserver ${RESOLVERS.unbound}\noptions timeout:2 attempts:2\n`);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // named listens only on configured addresses, so the resolvers' 127.0.0.x get their own too
    for (const a of [QUORUMBL, MX, DENIED, CLEAN, UNSEEN, ...Object.values(RESOLVERS).slice(1)]) execFileSync('ip', ['-n', NS, 'addr', 'add', `${a}/32`, 'dev', 'lo']);

    // quorumbl on the doc's address; a deny for one address and one domain through the CLI
    cfg = writeConfig(dir, [
      `server: { listen: ["${QUORUMBL}:53"] }`,
      'web: { enabled: false }',
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'providers: []',
      '',
    ].join('\n'));
    serve = start('quorumbl serve', BIN, ['serve', '--config', cfg]);
    await waitDns(serve!, QUORUMBL);
    for (const key of [DENIED, SPAM_DOMAIN]) {
      const r = await runQuorumbl(['override', 'add', 'deny', key, '--reason', 'postscreen test', '--config', cfg]);
      assert.equal(r.code, 0, r.output);
    }
    // straight from quorumbl first, so no resolver caches a "not listed" from before the deny
    const denied = await poll(async () => {
      const r = await nsDig(QUORUMBL, `${rev(DENIED)}.bl.${BASE}`, 'TXT', true);
      return r.status === 'NOERROR' && txtOf(r).length ? r : undefined;
    }, 'the deny of 192.0.2.66 in bl', { describe: () => serve!.tail(2000) });
    deniedTxt = txtOf(denied)[0]!;
    const spam = await poll(async () => {
      const r = await nsDig(QUORUMBL, `${SPAM_DOMAIN}.dbl.${BASE}`, 'TXT', true);
      return r.status === 'NOERROR' && txtOf(r).length ? r : undefined;
    }, 'the deny of spam.example in dbl', { describe: () => serve!.tail(2000) });
    spamTxt = txtOf(spam)[0]!;

    // Unbound: the doc's block plus where to listen and run
    const udir = join(dir, 'unbound');
    mkdirSync(udir);
    const uconf = join(udir, 'unbound.conf');
    writeFileSync(uconf, [
      'server:',
      `    interface: ${RESOLVERS.unbound}`,
      '    port: 53',
      '    num-threads: 1',
      '    username: ""',
      '    chroot: ""',
      `    directory: "${udir}"`,
      `    pidfile: "${join(udir, 'unbound.pid')}"`,
      '    use-syslog: no',
      '    logfile: ""',
      '    # the namespace has no way out: answer every other name at once (PTR lookups of clients)',
      '    local-zone: "." refuse',
      `    local-zone: "${BASE}." transparent`,
      'remote-control:',
      '    control-enable: no',
      '',
      recipe('unbound.conf'),
    ].join('\n'));
    execFileSync('unbound-checkconf', [uconf], { stdio: 'pipe' });
    const unbound = start('unbound', 'unbound', ['-d', '-c', uconf]);

    // BIND: one instance per doc block (forward, static-stub)
    const named: Array<[Proc, string]> = [];
    for (const [i, block] of recipes('bind-named.conf').entries()) {
      const kind = /type\s+(\S+);/.exec(block)![1]!;
      const addr = kind === 'forward' ? RESOLVERS['bind-forward'] : RESOLVERS['bind-static-stub'];
      const ndir = join(dir, `named-${i}`);
      mkdirSync(ndir);
      const nconf = join(ndir, 'named.conf');
      writeFileSync(nconf, [
        'options {',
        `    directory "${ndir}";`,
        `    pid-file "${join(ndir, 'named.pid')}";`,
        `    session-keyfile "${join(ndir, 'session.key')}";`,
        `    listen-on port 53 { ${addr}; };`,
        '    listen-on-v6 { none; };',
        '    recursion yes;',
        '    allow-query { any; };',
        '    allow-recursion { any; };',
        '    dnssec-validation auto;',
        `    validate-except { "${BASE}"; };`,
        '};',
        'controls { };',
        '',
        block,
      ].join('\n'));
      named.push([start(`named (${kind})`, 'named', ['-g', '-n', '1', '-c', nconf]), addr]);
    }

    // Knot Resolver: the doc's block plus where to listen; cache in its run dir
    const kdir = join(dir, 'kresd');
    mkdirSync(kdir);
    const kconf = join(kdir, 'kresd.conf');
    writeFileSync(kconf, `net.listen('${RESOLVERS.kresd}', 53, { kind = 'dns' })\n${recipe('kresd.conf')}`);
    const kresd = start('kresd', 'kresd', ['--noninteractive', '-c', kconf, kdir]);

    await waitDns(unbound, RESOLVERS.unbound);
    for (const [p, addr] of named) await waitDns(p, addr);
    await waitDns(kresd, RESOLVERS.kresd);

    // Postfix: a private instance with the doc's main.cf and master.cf blocks
    const pf = writePostfixInstance(join(dir, 'postfix'), { inetInterfaces: MX });
    maillog = pf.maillog;
    const [c, a] = inNs('postfix', ['-c', pf.configDir, 'check']);
    const chk = await run('script', ['-qec', [c, ...a].join(' '), '/dev/null']); // postfix prints errors only to a terminal
    assert.equal(chk.code, 0, `postfix check: ${chk.out}\n${log()}`);
    postfix = start('postfix master', '/usr/lib/postfix/sbin/master', ['-c', pf.configDir, '-d']);
    await poll(async () => (/postfix\/master\[\d+\]: daemon started/.test(log()) ? true : undefined), 'postfix master started', {
      timeoutMs: 30000,
      describe: () => `${postfix!.tail()}\n${log()}`,
    });
  });

  after(async () => {
    await stopAll(...procs);
    removeNamespace();
  });

  for (const [name, addr] of Object.entries(RESOLVERS)) {
    test(`${name}: the denied address, the clean one, the test points and dbl resolve as quorumbl answers`, async () => {
      const listed = await nsDig(addr, `${rev(DENIED)}.bl.${BASE}`);
      assert.deepEqual(aOf(listed), ['127.0.0.5'], listed.raw);
      assert.deepEqual(txtOf(await nsDig(addr, `${rev(DENIED)}.bl.${BASE}`, 'TXT')), [deniedTxt]);
      const clean = await nsDig(addr, `${rev(CLEAN)}.bl.${BASE}`);
      assert.equal(clean.status, 'NXDOMAIN', clean.raw);
      assert.deepEqual(aOf(await nsDig(addr, `2.0.0.127.wl.${BASE}`)), ['127.0.10.0']);
      assert.equal((await nsDig(addr, `1.0.0.127.bl.${BASE}`)).status, 'NXDOMAIN');
      assert.deepEqual(aOf(await nsDig(addr, `${SPAM_DOMAIN}.dbl.${BASE}`)), ['127.0.1.5']);
    });
  }

  const swaks = (from: string, sender: string) => {
    const [c, a] = inNs('swaks', [
      '--server', MX, '--port', '25', '--local-interface', from, '--helo', 'client.example',
      '--from', sender, '--to', 'user@example.test', '--quit-after', 'RCPT', '--timeout', '60',
    ]);
    return run(c, a);
  };

  test('postscreen: the denied address gets 550 at RCPT naming the DNSBL, and the log says why', async () => {
    const r = await swaks(DENIED, 'someone@sender.example');
    const replies = smtpReplies(r.out);
    const rcpt = replies.find((l) => /^5\d\d /.test(l));
    assert.ok(rcpt, `no rejection in the dialogue:\n${r.out}\n--- maillog ---\n${log()}`);
    assert.match(rcpt!, new RegExp(`^550 5\\.7\\.1 Service unavailable; client \\[${DENIED.replace(/\./g, '\\.')}\\] blocked using bl\\.${BASE.replace(/\./g, '\\.')}$`));
    const lines = await poll(async () => {
      const l = log();
      return /NOQUEUE: reject: RCPT from \[192\.0\.2\.66\]/.test(l) ? l : undefined;
    }, 'the postscreen reject line', { describe: log });
    assert.match(lines, /postfix\/dnsblog\[\d+\]: addr 192\.0\.2\.66 listed by domain bl\.dnsbl\.internal as 127\.0\.0\.5/);
    assert.match(lines, /postfix\/postscreen\[\d+\]: DNSBL rank 8 for \[192\.0\.2\.66\]:\d+/);
    assert.match(lines, /postfix\/postscreen\[\d+\]: NOQUEUE: reject: RCPT from \[192\.0\.2\.66\]:\d+: 550 5\.7\.1 Service unavailable; client \[192\.0\.2\.66\] blocked using bl\.dnsbl\.internal;/);
  });

  test('postscreen passes the clean address to smtpd, which accepts the recipient (250)', async () => {
    const r = await swaks(CLEAN, 'someone@sender.example');
    const replies = smtpReplies(r.out);
    assert.ok(!replies.some((l) => /^[45]\d\d /.test(l)), `${r.out}\n--- maillog ---\n${log()}`);
    assert.match(replies.at(-2) ?? '', /^250 2\.1\.5 Ok/, `RCPT reply:\n${r.out}`);
    const lines = await poll(async () => (/PASS NEW \[198\.51\.100\.7\]/.test(log()) ? log() : undefined), 'PASS NEW in the log', { describe: log });
    assert.doesNotMatch(lines, /DNSBL rank \d+ for \[198\.51\.100\.7\]/);
  });

  test('smtpd: reject_rhsbl_sender refuses a denied sender domain with the TXT in the reply', async () => {
    const r = await swaks(CLEAN, `bounce@${SPAM_DOMAIN}`);
    const rcpt = smtpReplies(r.out).find((l) => /^5\d\d /.test(l));
    assert.equal(
      rcpt,
      `554 5.7.1 Service unavailable; Sender address [bounce@${SPAM_DOMAIN}] blocked using dbl.${BASE}; ${spamTxt}`,
      `${r.out}\n--- maillog ---\n${log()}`,
    );
  });

  test('Exim: the doc ACL rejects the denied address with the TXT in the message, accepts the clean one', async () => {
    const edir = join(dir, 'exim');
    mkdirSync(edir, { mode: 0o777 });
    const conf = writeEximConfig(edir);
    const users = writeEximUserFiles(edir);
    const dialogue = 'EHLO client.example\r\nMAIL FROM:<someone@sender.example>\r\nRCPT TO:<user@example.test>\r\nQUIT\r\n';
    const session = (ip: string) => {
      const [c, a] = eximUserArgs(users, ['ip', 'netns', 'exec', NS, EXIM, '-C', conf, '-bh', ip]);
      return run(c, a, { input: dialogue });
    };
    const denied = await session(DENIED);
    // a reply longer than 75 characters comes as continuation lines (550-...): join them
    const reply = denied.stdout.split(/\r?\n/).filter((l) => /^550[- ]/.test(l)).map((l) => l.slice(4)).join(' ');
    assert.equal(reply, `${DENIED} is listed at bl.${BASE}: ${deniedTxt}`, denied.out);
    const clean = await session(CLEAN);
    assert.match(clean.stdout, /^250 Accepted\r?$/m, clean.out);
    assert.doesNotMatch(clean.stdout, /^5\d\d /m, clean.out);
  });

  // Last: it stops quorumbl. postscreen fails open: the lookup fails (Unbound answers SERVFAIL
  // when its stub is gone), dnsblog logs it, and the client is treated as not listed.
  test('quorumbl down: postscreen logs the failed lookup and lets a client it never saw through (fails open)', async () => {
    await serve!.stop();
    const r = await swaks(UNSEEN, 'someone@sender.example');
    const replies = smtpReplies(r.out);
    assert.ok(!replies.some((l) => /^[45]\d\d /.test(l)), `${r.out}\n--- maillog ---\n${log()}`);
    assert.match(replies.at(-2) ?? '', /^250 2\.1\.5 Ok/, r.out);
    const lines = await poll(async () => (/PASS NEW \[203\.0\.113\.9\]/.test(log()) ? log() : undefined), 'PASS NEW in the log', { describe: log });
    assert.match(lines, /postfix\/dnsblog\[\d+\]: warning: dnsblog_query: lookup error for DNS query 9\.113\.0\.203\.(bl|wl)\.dnsbl\.internal/, lines);
  });
});
