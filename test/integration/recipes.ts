// The MTA and resolver recipes of docs/integration.md, extracted from the doc itself (fenced
// blocks tagged ```postfix-main.cf, ```unbound.conf, ...), and the minimal frames around them that
// a checker or a live run needs (a private Postfix instance, an Exim config, ...). The tests feed
// exactly the doc's text to the real software, so the doc cannot drift from what it accepts.

import { readFileSync, writeFileSync, mkdirSync, copyFileSync, readdirSync, chownSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers.ts';

export const DOC = join(ROOT, 'docs', 'integration.md');
export const BASE = 'dnsbl.internal';

/** The bodies of the fenced blocks tagged `tag`, in document order. */
export function recipes(tag: string): string[] {
  const text = readFileSync(DOC, 'utf8');
  const out: string[] = [];
  const re = /^```(\S+)[^\n]*\n([\s\S]*?)^```\s*$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) if (m[1] === tag) out.push(m[2]!);
  return out;
}

/** The one block tagged `tag` (throws when there are none, so a renamed tag fails loudly). */
export function recipe(tag: string): string {
  const all = recipes(tag);
  if (all.length !== 1) throw new Error(`docs/integration.md: expected one \`\`\`${tag} block, found ${all.length}`);
  return all[0]!;
}

// ---------------------------------------------------------------------------------------------
// Postfix: a private instance (own config, queue and data directories; never /etc/postfix's
// main.cf, never the system queue). Needs the Debian postfix package for its daemons.

/** The services a private instance needs besides the doc's postscreen/smtpd lines. */
const MASTER_BASE = `postlog   unix-dgram n  -       n       -       1       postlogd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
discard   unix  -       -       n       -       -       discard
`;

export interface PostfixInstance {
  configDir: string;
  maillog: string;
}

/**
 * Writes a private Postfix instance under dir: main.cf = instance plumbing + every
 * ```postfix-main.cf block, master.cf = the ```postfix-master.cf block + the internal services.
 * `mainExtra` lines go last (a test's own tweaks).
 */
export function writePostfixInstance(dir: string, opts: { inetInterfaces: string; mainExtra?: string[] }): PostfixInstance {
  const configDir = join(dir, 'etc');
  const logDir = join(dir, 'log');
  for (const d of [configDir, join(dir, 'queue'), join(dir, 'data'), logDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  chownSync(join(dir, 'data'), uid('postfix'), 0);
  const maillog = join(logDir, 'maillog');
  const main = [
    '# private instance for the tests: nothing here touches /etc/postfix or the system queue',
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    'daemon_directory = /usr/lib/postfix/sbin',
    'meta_directory = /etc/postfix',
    'shlib_directory = /usr/lib/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = mx.example.test',
    'mydestination = example.test',
    'local_recipient_maps =',
    'mynetworks = 127.0.0.0/8',
    `inet_interfaces = ${opts.inetInterfaces}`,
    'inet_protocols = ipv4',
    `maillog_file_prefixes = ${logDir}`,
    `maillog_file = ${maillog}`,
    '',
    '# --- docs/integration.md ---',
    ...recipes('postfix-main.cf'),
    '# --- end of docs/integration.md ---',
    ...(opts.mainExtra ?? []),
    '',
  ].join('\n');
  writeFileSync(join(configDir, 'main.cf'), main);
  writeFileSync(join(configDir, 'master.cf'), recipe('postfix-master.cf') + MASTER_BASE);
  return { configDir, maillog };
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

// ---------------------------------------------------------------------------------------------
// Exim. exim4 conflicts with postfix as the system MTA, so CI unpacks Debian's
// exim4-daemon-light binary (apt-get download + dpkg-deb -x) into /opt/exim4-light instead of
// installing it. The binary looks up its compiled-in user Debian-exim at start; eximUserArgs()
// gives it one in a private mount namespace (a copy of /etc/passwd bind-mounted over the real
// one), so the host's user database is never changed.

export const EXIM = process.env.QUORUMBL_TEST_EXIM ?? '/opt/exim4-light/usr/sbin/exim4';

/** An Exim config: the doc's ACL fragment inside acl_check_rcpt, logs and spool in dir. */
export function writeEximConfig(dir: string, acl = recipe('exim-acl')): string {
  for (const d of ['log', 'spool']) mkdirSync(join(dir, d), { recursive: true, mode: 0o777 });
  const conf = join(dir, 'exim.conf');
  writeFileSync(
    conf,
    [
      'primary_hostname = mx.example.test',
      'domainlist local_domains = example.test',
      `log_file_path = ${join(dir, 'log')}/%slog`,
      `spool_directory = ${join(dir, 'spool')}`,
      'acl_smtp_rcpt = acl_check_rcpt',
      'keep_environment =',
      'host_lookup =',
      'rfc1413_hosts =',
      '',
      'begin acl',
      '',
      'acl_check_rcpt:',
      '  deny    !domains = +local_domains',
      '          message  = relay not permitted',
      '',
      '# --- docs/integration.md ---',
      acl,
      '# --- end of docs/integration.md ---',
      '  accept',
      '',
    ].join('\n'),
  );
  return conf;
}

/** Files for eximUserArgs: /etc/passwd and /etc/group plus the Debian-exim entries. */
export function writeEximUserFiles(dir: string): { passwd: string; group: string } {
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  writeFileSync(passwd, readFileSync('/etc/passwd', 'utf8') + 'Debian-exim:x:65534:65534:exim (test):/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(group, readFileSync('/etc/group', 'utf8') + 'Debian-exim:x:65534:\n');
  return { passwd, group };
}

/** argv (for spawn/execFile) that runs `cmd` with Debian-exim known, in a private mount namespace. */
export function eximUserArgs(files: { passwd: string; group: string }, cmd: string[]): [string, string[]] {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `mount --bind ${q(files.passwd)} /etc/passwd && mount --bind ${q(files.group)} /etc/group && exec ${cmd.map(q).join(' ')}`;
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]];
}

// ---------------------------------------------------------------------------------------------
// rspamd and SpamAssassin: the doc's files in a local config directory of their own.

/** LOCAL_CONFDIR for rspamd with the doc's local.d files. */
export function writeRspamdLocal(dir: string, blocks?: Partial<Record<'rbl.conf' | 'rbl_group.conf' | 'options.inc', string>>): string {
  mkdirSync(join(dir, 'local.d'), { recursive: true });
  for (const f of ['rbl.conf', 'rbl_group.conf', 'options.inc'] as const) {
    writeFileSync(join(dir, 'local.d', f), blocks?.[f] ?? recipe(`rspamd-${f}`));
  }
  return dir;
}

/** A SpamAssassin site config directory: Debian's plugin .pre files + the doc's local.cf. */
export function writeSpamAssassinSite(dir: string, localCf = recipe('spamassassin-local.cf')): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync('/etc/spamassassin')) if (f.endsWith('.pre')) copyFileSync(join('/etc/spamassassin', f), join(dir, f));
  writeFileSync(join(dir, 'local.cf'), localCf);
  return dir;
}
