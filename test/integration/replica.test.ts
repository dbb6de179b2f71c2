// Replica mode against a real primary, Knot DNS: `quorumbl serve --replica-of` takes the zones
// of knotd's catalog by TSIG-signed AXFR, follows changes by NOTIFY + IXFR and by SOA polling,
// follows the catalog as zones come and go, refuses a wrong key, keeps answering when knotd is
// gone, and restarts from its saved copies (a damaged copy is ignored: SERVFAIL, never a wrong
// answer). Answers are compared with knotd's own for the same names.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  dig, freePort, LEVEL, show, makeTmpDir, poll, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type DigReply, type Proc,
} from './helpers.ts';
import { KnotPrimary, type KnotZone } from './knot-primary.ts';

const skip = toolsOrSkip(['knotd', 'knotc', 'dig']);
const CATALOG = 'catalog.test';

function blZone(serial: number, extra = ''): string {
  return `$ORIGIN bl.test.
$TTL 300
@           IN SOA  ns1 hostmaster ${serial} 3600 600 86400 60
@           IN NS   ns1
ns1         IN A    127.0.0.1
2.0.0.127   IN A    127.0.0.2
2.0.0.127   IN TXT  "Listed: test point"
4.0.0.127   IN A    127.0.0.4
*.10        IN A    127.0.0.10
*.10        IN TXT  "the whole 10/8"
mail        IN MX   10 mx.example.net.
${extra}`;
}

/** SOA refresh 1 s; knotd sends no NOTIFY for it: only polling finds its changes. */
function pollZone(serial: number, listed: string): string {
  return `$ORIGIN poll.test.
$TTL 300
@    IN SOA ns1.bl.test. hostmaster.bl.test. ${serial} 1 1 86400 60
@    IN NS  ns1.bl.test.
${listed} IN A 127.0.0.2
`;
}

/** What a reply says, for comparing two servers: rcode, AA, answer records (sorted). */
function gist(r: DigReply): string {
  const ans = r.answer.map((x) => `${x.name} ${x.ttl} ${x.type} ${x.data}`).sort();
  return `${r.status} aa=${r.flags.includes('aa')} ${ans.join(' | ')}`;
}

describe('replica of a Knot DNS primary', { skip }, () => {
  let replicaPort = 0;
  const knot = new KnotPrimary(CATALOG, () => replicaPort, true); // NOTIFY signed
  let replica: Proc | undefined;
  let other: Proc | undefined;
  let dir = '';
  let config = '';
  let zones: KnotZone[] = [];

  const startReplica = async (extraArgs: string[] = [], tsig = knot.tsigArg): Promise<Proc> => {
    const p = spawnQuorumbl(['serve', '--config', config, '--replica-of', `127.0.0.1:${knot.port}`, '--tsig', tsig, ...extraArgs]);
    await waitReady(p, '127.0.0.1', replicaPort, 'bl.test');
    return p;
  };

  before(async () => {
    replicaPort = await freePort();
    dir = makeTmpDir('qbl-replica-');
    config = writeConfig(dir, `server:
  listen: ["127.0.0.1:${replicaPort}"]
state_dir: ${join(dir, 'state')}
web: { enabled: false }
log: { level: info }
replica:
  catalog: ${CATALOG}
  first_retry: 1s
`);
    zones = [
      { name: 'bl.test', text: blZone(1), member: true },
    ];
    await knot.start(zones);
    await poll(async () => ((await dig('127.0.0.1', knot.port, ['bl.test', 'SOA'])).status === 'NOERROR' ? true : undefined), 'knotd to serve bl.test');
  });

  after(async () => {
    await stopAll(replica, other);
    await knot.stop();
  });

  test('takes the catalog and its member by TSIG-signed AXFR and answers as knotd does', async () => {
    replica = await startReplica();
    await poll(async () => ((await dig('127.0.0.1', replicaPort, ['2.0.0.127.bl.test', 'A'])).status === 'NOERROR' ? true : undefined),
      'the replica to answer bl.test', { describe: () => replica!.tail() });
    const names: [string, string][] = [
      ['2.0.0.127.bl.test', 'A'], ['2.0.0.127.bl.test', 'TXT'], ['4.0.0.127.bl.test', 'TXT'],
      ['3.0.0.127.bl.test', 'A'], ['0.0.127.bl.test', 'A'], ['1.2.3.10.bl.test', 'A'], ['1.2.3.10.bl.test', 'TXT'],
      ['10.bl.test', 'A'], ['mail.bl.test', 'MX'], ['bl.test', 'SOA'], ['bl.test', 'NS'], ['nothing.bl.test', 'A'],
    ];
    for (const [n, t] of names) {
      const [a, b] = await Promise.all([dig('127.0.0.1', knot.port, [n, t]), dig('127.0.0.1', replicaPort, [n, t])]);
      assert.equal(gist(b), gist(a), `${n} ${t}`);
    }
    // ANY: knotd answers one RRset (RFC 8482); quorumbl, as rbldnsd, all of them
    assert.deepEqual((await dig('127.0.0.1', replicaPort, ['2.0.0.127.bl.test', 'ANY'])).answer.map((r) => r.type).sort(), ['A', 'TXT']);
    const logs = replica.logs();
    assert.ok(logs.some((l) => l.msg === 'replica: AXFR received' && l.zone === CATALOG));
    assert.ok(logs.some((l) => l.msg === 'replica: AXFR received' && l.zone === 'bl.test'));
  });

  test('NOTIFY is answered NOERROR+AA from the primary, REFUSED from another address or for another zone, NOTAUTH with a wrong key', async () => {
    const ok = await dig('127.0.0.1', replicaPort, ['+opcode=notify', 'bl.test', 'SOA']);
    assert.equal(ok.status, 'NOERROR', show(ok));
    assert.match(ok.raw, /opcode: NOTIFY/);
    assert.ok(ok.flags.includes('aa'));
    const stranger = await dig('127.0.0.1', replicaPort, ['-b', '127.0.0.2', '+opcode=notify', 'bl.test', 'SOA']);
    assert.equal(stranger.status, 'REFUSED', show(stranger));
    const badKey = await dig('127.0.0.1', replicaPort, ['-y', `hmac-sha256:${knot.keyName}:${Buffer.alloc(32, 9).toString('base64')}`, '+opcode=notify', 'bl.test', 'SOA']);
    assert.equal(badKey.status, 'NOTAUTH', show(badKey));
    const unknown = await dig('127.0.0.1', replicaPort, ['+opcode=notify', 'nothere.test', 'SOA']);
    assert.equal(unknown.status, 'REFUSED', show(unknown));
  });

  test('a change on knotd arrives by a signed NOTIFY (reply signed) and an IXFR carrying only the difference', async () => {
    const from = replica!.output().length;
    const knotFrom = knot.proc!.output().length;
    // 4.0.0.127 delisted, 5.0.0.127 listed
    zones[0] = { ...zones[0]!, text: blZone(2, '5.0.0.127 IN A 127.0.0.5\n').replace('4.0.0.127   IN A    127.0.0.4\n', '') };
    knot.writeZone('bl.test', zones[0].text);
    await knot.ctl(['zone-reload', 'bl.test']);
    const applied = await waitForLog(replica!, from, (l) => l.msg === 'replica: IXFR applied' && l.zone === 'bl.test', 'the IXFR', 15000);
    // knotd signed its NOTIFY and verified our signed reply
    await knot.proc!.waitForOutput((o) => /\[bl\.test\.\] notify, outgoing, remote 127\.0\.0\.1@\d+(?: TSIG)?, serial 2/.test(o.slice(knotFrom)), 'knotd to log the NOTIFY answered');
    assert.doesNotMatch(knot.proc!.output().slice(knotFrom), /notify, outgoing.*failed/);
    assert.equal(applied.serial, 2);
    assert.equal(applied.added, 1);
    assert.equal(applied.deleted, 1);
    // refresh 3600: nothing but the NOTIFY could have started it this soon
    assert.equal((await dig('127.0.0.1', replicaPort, ['5.0.0.127.bl.test', 'A'])).answer[0]?.data, '127.0.0.5');
    assert.equal((await dig('127.0.0.1', replicaPort, ['4.0.0.127.bl.test', 'A'])).status, 'NXDOMAIN');
    assert.match((await dig('127.0.0.1', replicaPort, ['bl.test', 'SOA'])).answer[0]!.data, / 2 3600 600 86400 60$/);
  });

  test('a zone added to the catalog is served, SOA polling follows it, and a removed one is dropped', async () => {
    let from = replica!.output().length;
    zones.push({ name: 'poll.test', text: pollZone(1, '2.0.0.127'), member: true, notify: false });
    await knot.setZones(zones);
    await waitForLog(replica!, from, (l) => l.msg === 'replica: new zone in the catalog' && l.zone === 'poll.test', 'the new member', 20000);
    await poll(async () => ((await dig('127.0.0.1', replicaPort, ['2.0.0.127.poll.test', 'A'])).status === 'NOERROR' ? true : undefined),
      'poll.test on the replica', { describe: () => replica!.tail() });
    // knotd sends no NOTIFY for poll.test: the SOA refresh (1 s) must find the change
    knot.writeZone('poll.test', pollZone(2, '3.0.0.127'));
    await knot.ctl(['zone-reload', 'poll.test']);
    await poll(async () => ((await dig('127.0.0.1', replicaPort, ['3.0.0.127.poll.test', 'A'])).status === 'NOERROR' ? true : undefined),
      'the change of poll.test on the replica', { describe: () => replica!.tail() });
    assert.equal((await dig('127.0.0.1', replicaPort, ['2.0.0.127.poll.test', 'A'])).status, 'NXDOMAIN');

    from = replica!.output().length;
    zones = zones.filter((z) => z.name !== 'poll.test');
    await knot.setZones(zones);
    await waitForLog(replica!, from, (l) => l.msg === 'replica: zone removed from the catalog; no longer served' && l.zone === 'poll.test', 'the removal', 20000);
    assert.equal((await dig('127.0.0.1', replicaPort, ['3.0.0.127.poll.test', 'A'])).status, 'REFUSED');
    assert.equal(existsSync(join(dir, 'state', 'replica', 'poll.test.copy')), false);
  });

  test('a wrong TSIG key is refused by the primary: logged, the zone SERVFAIL, nothing served', async () => {
    const port2 = await freePort();
    const dir2 = makeTmpDir('qbl-replica-bad-');
    const cfg2 = writeConfig(dir2, `server:
  listen: ["127.0.0.1:${port2}"]
state_dir: ${join(dir2, 'state')}
replica:
  zones: [bl.test]
  first_retry: 1s
`);
    const wrong = `hmac-sha256:${knot.keyName}:${Buffer.alloc(32, 7).toString('base64')}`;
    other = spawnQuorumbl(['serve', '--config', cfg2, '--replica-of', `127.0.0.1:${knot.port}`, '--tsig', wrong]);
    await waitReady(other, '127.0.0.1', port2, 'bl.test');
    const failed = await waitForLog(other, 0, (l) => l.msg?.startsWith('replica: refresh failed') === true, 'the refused transfer');
    assert.equal(failed.level, LEVEL.warn);
    assert.match(String(failed.err), /NOTAUTH|BADSIG|BADKEY|TSIG/);
    assert.equal((await dig('127.0.0.1', port2, ['2.0.0.127.bl.test', 'A'])).status, 'SERVFAIL');
    await stopAll(other);
    other = undefined;
  });

  test('primary stopped: the replica keeps answering; restarted with the primary down it answers from its copy', async () => {
    await knot.stop();
    assert.equal((await dig('127.0.0.1', replicaPort, ['5.0.0.127.bl.test', 'A'])).answer[0]?.data, '127.0.0.5');
    await stopAll(replica);
    replica = await startReplica();
    // the first answer already comes from the saved copy
    assert.equal((await dig('127.0.0.1', replicaPort, ['5.0.0.127.bl.test', 'A'])).answer[0]?.data, '127.0.0.5');
    assert.equal((await dig('127.0.0.1', replicaPort, ['1.1.1.10.bl.test', 'TXT'])).answer[0]?.data, '"the whole 10/8"');
    assert.ok(replica.logs().some((l) => l.msg === 'replica: answering from the saved copy' && l.zone === 'bl.test'));
    const failed = await waitForLog(replica, 0, (l) => l.msg?.startsWith('replica: refresh failed') === true && l.zone === 'bl.test', 'the failed refresh');
    assert.equal(failed.serving, 2);
    const status = JSON.parse(readFileSync(join(dir, 'state', 'replica', 'status.json'), 'utf8')) as { zones: { zone: string; lastError: string | null; serial: number }[] };
    const bl = status.zones.find((z) => z.zone === 'bl.test')!;
    assert.equal(bl.serial, 2);
    assert.ok(bl.lastError);
  });

  test('a damaged copy is ignored at start: SERVFAIL until a transfer, never a wrong answer', async () => {
    await stopAll(replica);
    const file = join(dir, 'state', 'replica', 'bl.test.copy');
    writeFileSync(file, readFileSync(file, 'utf8').replace('127.0.0.5', '127.0.0.9'));
    replica = await startReplica();
    const warned = await waitForLog(replica, 0, (l) => String(l.msg).startsWith('replica: saved copy ignored') && l.zone === 'bl.test', 'the warning');
    assert.match(String(warned.err), /checksum/);
    assert.equal((await dig('127.0.0.1', replicaPort, ['5.0.0.127.bl.test', 'A'])).status, 'SERVFAIL');
    // the primary back: the zone is transferred and served again
    await knot.start(zones);
    await poll(async () => ((await dig('127.0.0.1', replicaPort, ['5.0.0.127.bl.test', 'A'])).answer[0]?.data === '127.0.0.5' ? true : undefined),
      'the replica to transfer bl.test again', { timeoutMs: 30000, describe: () => replica!.tail() });
  });
});
