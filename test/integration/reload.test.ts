// Data reloads as a mail admin meets them: an rsync'ed file changes, an admin sends SIGHUP,
// an update goes wrong (file gone, broken combined file), the server restarts with bad data.
// The rule under test: a broken update never empties a zone; the last good data keeps answering.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  toolsOrSkip, makeTmpDir, freePort, spawnQuorumbl, stopAll, waitReady, dig, show, txtStrings, copyFixture,
  writeConfig, ip4Labels, replaceFile, poll, waitForLog, LEVEL, FIXTURES, type Proc, type DigReply,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const Z = 'bl.quorumbl.test';
const C = 'comb.quorumbl.test';
const BASE_IP4SET = readFileSync(join(FIXTURES, 'ip4set.txt'), 'utf8');

/** ip4set data v2: 192.0.2.0/24 gone, 198.51.100.10 listed with its own code. */
const IP4SET_V2 = BASE_IP4SET.replace(/^192\.0\.2\.0\/24.*$/m, '198.51.100.10 :127.0.0.5:Second generation $');
const IP4SET_V3 = BASE_IP4SET + '203.0.113.33 :127.0.0.6:Third generation $\n';

interface Site {
  dir: string;
  ip4set: string;
  dnset: string;
  combined: string;
  config: string;
  port: number;
}

async function makeSite(checkInterval: string): Promise<Site> {
  const dir = makeTmpDir();
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o755 });
  const port = await freePort();
  const site: Site = {
    dir,
    port,
    ip4set: copyFixture('ip4set.txt', data),
    dnset: copyFixture('dnset.txt', data),
    combined: copyFixture('combined.txt', data),
    config: '',
  };
  site.config = writeConfig(
    dir,
    `server:
  listen: ["127.0.0.1:${port}"]
reload: { check_interval: ${checkInterval} }
state_dir: ./state
log: { level: info }
zones:
  - name: ${Z}
    datasets:
      - { type: ip4set, files: [data/ip4set.txt] }
      - { type: dnset, files: [data/dnset.txt] }
  - name: ${C}
    datasets:
      - { type: combined, files: [data/combined.txt] }
`,
  );
  return site;
}

async function start(site: Site): Promise<Proc> {
  const proc = spawnQuorumbl(['serve', '--config', site.config]);
  await waitReady(proc, '127.0.0.1', site.port, Z);
  return proc;
}

function aOf(r: DigReply): string[] {
  return r.answer.filter((x) => x.type === 'A').map((x) => x.data);
}

/** Polls until `name` answers exactly these A records (empty list = NXDOMAIN). */
async function waitForAnswer(proc: Proc, port: number, name: string, want: string[], what: string): Promise<DigReply> {
  let last: DigReply | undefined;
  return poll(
    async () => {
      last = await dig('127.0.0.1', port, [name, 'A']);
      const ok = want.length === 0 ? last.status === 'NXDOMAIN' : last.status === 'NOERROR' && aOf(last).join(',') === want.join(',');
      return ok ? last : undefined;
    },
    what,
    { timeoutMs: 30000, describe: () => `last reply:\n${last ? show(last) : '(none)'}\nserver output:\n${proc.tail()}` },
  );
}

/** A log record of level error or worse whose line names the file (by its base name). */
function errorNaming(file: string) {
  const base = file.split('/').pop()!;
  return (rec: { level?: number }, line: string) => (rec.level ?? 0) >= LEVEL.error && line.includes(base);
}

describe('reload on file change (check_interval 1s)', { skip }, () => {
  let site: Site;
  let proc: Proc | undefined;
  const q = (name: string, type = 'A') => dig('127.0.0.1', site.port, [name, type]);

  before(async () => {
    site = await makeSite('1s');
    proc = await start(site);
  });
  after(() => stopAll(proc));

  test('a replaced data file is answered after the next check', async () => {
    assert.deepEqual(aOf(await q(`${ip4Labels('192.0.2.5')}.${Z}`)), ['127.0.0.3']);
    replaceFile(site.ip4set, IP4SET_V2);
    await waitForAnswer(proc!, site.port, `${ip4Labels('198.51.100.10')}.${Z}`, ['127.0.0.5'], 'new entry after file change');
    const t = await q(`${ip4Labels('198.51.100.10')}.${Z}`, 'TXT');
    assert.deepEqual(t.answer.map((x) => txtStrings(x.data)), [['Second generation 198.51.100.10']], show(t));
    // the removed range is gone, the rest of the zone is intact
    assert.equal((await q(`${ip4Labels('192.0.2.5')}.${Z}`)).status, 'NXDOMAIN');
    assert.deepEqual(aOf(await q(`2.0.0.127.${Z}`)), ['127.0.0.2']);
    assert.deepEqual(aOf(await q(`test.${Z}`)), ['127.0.0.2']);
  });

  test('a deleted data file: error naming the file, the last good data keeps answering', async () => {
    const from = proc!.output().length;
    rmSync(site.ip4set);
    await waitForLog(proc!, from, errorNaming(site.ip4set), 'an error log naming ip4set.txt after deleting it');
    for (const name of [`${ip4Labels('198.51.100.10')}.${Z}`, `2.0.0.127.${Z}`]) {
      const r = await q(name);
      assert.equal(r.status, 'NOERROR', `old data must keep answering after a failed reload\n${show(r)}\n${proc!.tail()}`);
      assert.ok(aOf(r).length === 1, show(r));
    }
    assert.equal((await q(`1.0.0.127.${Z}`)).status, 'NXDOMAIN');
    // the other dataset of the zone is untouched
    assert.deepEqual(aOf(await q(`test.${Z}`)), ['127.0.0.2']);
  });

  test('when the file comes back, its new content is answered', async () => {
    replaceFile(site.ip4set, IP4SET_V3);
    await waitForAnswer(proc!, site.port, `${ip4Labels('203.0.113.33')}.${Z}`, ['127.0.0.6'], 'data after the file came back');
    assert.equal((await q(`${ip4Labels('198.51.100.10')}.${Z}`)).status, 'NXDOMAIN');
  });

  test('a combined file with a fatal error: error naming the file, old data kept', async () => {
    assert.deepEqual(aOf(await q(`${ip4Labels('203.0.113.7')}.${C}`)), ['127.0.0.4']);
    const from = proc!.output().length;
    replaceFile(site.combined, readFileSync(join(FIXTURES, 'combined-fatal.txt'), 'utf8'));
    await waitForLog(proc!, from, errorNaming(site.combined), 'an error log naming combined.txt after a fatal error in it');
    const r = await q(`${ip4Labels('203.0.113.7')}.${C}`);
    assert.equal(r.status, 'NOERROR', `old combined data must keep answering\n${show(r)}\n${proc!.tail()}`);
    assert.deepEqual(aOf(r), ['127.0.0.4'], show(r));
    assert.equal((await q(`${ip4Labels('203.0.113.9')}.${C}`)).status, 'NXDOMAIN', 'nothing of the broken file is served');
    const s = await q(C, 'SOA');
    assert.equal(s.status, 'NOERROR', show(s));
  });
});

describe('SIGHUP reloads at once', { skip }, () => {
  let site: Site;
  let proc: Proc | undefined;

  before(async () => {
    // An hour between checks: any reload seen within the test came from SIGHUP.
    site = await makeSite('1h');
    proc = await start(site);
  });
  after(() => stopAll(proc));

  test('a changed file is answered after SIGHUP', async () => {
    replaceFile(site.ip4set, IP4SET_V2);
    proc!.signal('SIGHUP');
    await waitForAnswer(proc!, site.port, `${ip4Labels('198.51.100.10')}.${Z}`, ['127.0.0.5'], 'new data after SIGHUP');
    assert.equal(proc!.exitStatus, null, 'SIGHUP must not stop the server');
  });

  test('a second SIGHUP with a broken file keeps the data and the process', async () => {
    const from = proc!.output().length;
    rmSync(site.ip4set);
    proc!.signal('SIGHUP');
    await waitForLog(proc!, from, errorNaming(site.ip4set), 'an error log naming ip4set.txt after SIGHUP');
    const r = await dig('127.0.0.1', site.port, [`${ip4Labels('198.51.100.10')}.${Z}`, 'A']);
    assert.deepEqual(aOf(r), ['127.0.0.5'], show(r));
    assert.equal(proc!.exitStatus, null);
  });
});

describe('restart with an unreadable data file serves the last snapshot', { skip }, () => {
  let site: Site;
  let first: Proc | undefined;
  let second: Proc | undefined;

  before(async () => {
    site = await makeSite('1h');
  });
  after(() => stopAll(first, second));

  test('a first run writes snapshots into state_dir/snapshots, also after a reload', async () => {
    first = await start(site);
    const snapDir = join(site.dir, 'state', 'snapshots');
    const fingerprint = () =>
      existsSync(snapDir)
        ? readdirSync(snapDir).sort().map((f) => `${f}@${statSync(join(snapDir, f)).mtimeMs}:${statSync(join(snapDir, f)).size}`).join(' ')
        : '';
    const initial = await poll(async () => fingerprint() || undefined, `snapshot files in ${snapDir}`, { describe: () => first!.tail() });
    replaceFile(site.ip4set, IP4SET_V2);
    first.signal('SIGHUP');
    await waitForAnswer(first, site.port, `${ip4Labels('198.51.100.10')}.${Z}`, ['127.0.0.5'], 'generation 2 before restart');
    await poll(async () => (fingerprint() !== initial ? true : undefined), `a new snapshot in ${snapDir} after the reload`, {
      describe: () => `snapshots: ${fingerprint()}\n${first!.tail()}`,
    });
    await first.stop();
  });

  test('after restart with the data file unreadable, the snapshot answers and the error names the file', async () => {
    assert.ok(first?.exitStatus, 'first run must have stopped');
    // Root reads any file whatever its mode, so make it unreadable by putting a directory there.
    rmSync(site.ip4set);
    mkdirSync(site.ip4set);
    second = spawnQuorumbl(['serve', '--config', site.config]);
    await waitReady(second, '127.0.0.1', site.port, Z);
    const r = await dig('127.0.0.1', site.port, [`${ip4Labels('198.51.100.10')}.${Z}`, 'A']);
    assert.equal(r.status, 'NOERROR', `the last snapshot must answer\n${show(r)}\n${second.tail()}`);
    assert.deepEqual(aOf(r), ['127.0.0.5'], show(r));
    assert.deepEqual(aOf(await dig('127.0.0.1', site.port, [`2.0.0.127.${Z}`, 'A'])), ['127.0.0.2']);
    assert.deepEqual(aOf(await dig('127.0.0.1', site.port, [`test.${Z}`, 'A'])), ['127.0.0.2']);
    assert.equal((await dig('127.0.0.1', site.port, [`1.0.0.127.${Z}`, 'A'])).status, 'NXDOMAIN');
    await waitForLog(second, 0, errorNaming(site.ip4set), 'an error log naming ip4set.txt at startup');
  });
});
