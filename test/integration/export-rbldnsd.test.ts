// The export's promise, end to end: Debian's rbldnsd loading the rbldnsd export of bl, wl and
// dbl, downloaded over HTTP from a real `quorumbl serve` (sources with listed keys, a provider
// list exempting its ranges, allow and deny overrides of addresses, prefixes and domains),
// answers what quorumbl answers for 10,000 random keys: the same A set, listed vs NXDOMAIN, the
// same TXT. The download is conditional: the ETag gives a 304 until an override changes the
// zone, then a new ETag and a file with the new verdict.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, poll, type Proc } from './helpers.ts';
import { BASE, addOverrides, sampleKeys, syncedState, type ExportState } from './export-setup.ts';
import { startRbldnsd } from '../core/datasets/helpers.ts';
import { askServer, show, type Seen } from '../core/zones/export-helpers.ts';

const skip = toolsOrSkip(['dig', 'rbldnsd']);
const ZONES = ['bl', 'wl', 'dbl'] as const;

/** Same answer for an MTA: the A set, the TXT set, listed or not. quorumbl answers an empty
 *  non-terminal (a parent of listed names) NODATA; rbldnsd has no such names: NXDOMAIN. */
function same(q: Seen | null, r: Seen | null): boolean {
  if (!q || !r) return false;
  if (q.a.join() !== r.a.join() || q.txt.join() !== r.txt.join()) return false;
  return q.found === r.found || (q.found && q.a.length + q.txt.length === 0);
}

describe('rbldnsd loading the export answers as quorumbl does', { skip }, () => {
  let st: ExportState;
  let serve: Proc | undefined;
  let token = '';
  const data = mkdtempSync(join(tmpdir(), 'qbl-export-rbldnsd-'));
  chmodSync(data, 0o755);

  const download = (zone: string, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${st.web}/api/v1/export/${zone}?format=rbldnsd`, { headers: { authorization: `Bearer ${token}`, ...headers } });

  before(async () => {
    st = await syncedState();
    const t = await runQuorumbl(['token', 'create', '--name', 'fleet', '--scope', 'reports', '--config', st.cfg]);
    assert.equal(t.code, 0, t.output);
    token = t.stdout.trim();
    await addOverrides(st.cfg);
    serve = spawnQuorumbl(['serve', '--config', st.cfg]);
    await waitReady(serve, '127.0.0.1', st.dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
  });

  after(async () => {
    await stopAll(serve);
    rmSync(data, { recursive: true, force: true });
  });

  test('10,000 random keys (listed, exempt, overridden, unlisted; IPv4, IPv6, domains): same A set, NXDOMAIN vs listed, TXT', async (t) => {
    const etags: Record<string, string> = {};
    for (const z of ZONES) {
      const res = await download(z);
      assert.equal(res.status, 200, await res.clone().text());
      etags[z] = res.headers.get('etag')!;
      writeFileSync(join(data, `${z}.rbldnsd`), await res.text(), { mode: 0o644 });
    }
    const specs = ZONES.map((z) => `${z}.${BASE}:combined:${z}.rbldnsd`);
    const { port, proc } = await startRbldnsd(data, specs[2]!, specs.slice(0, 2));
    try {
      const asks = sampleKeys(10_000);
      const ours: (Seen | null)[] = [];
      const theirs: (Seen | null)[] = [];
      for (const z of ZONES) {
        const idx = asks.map((a, i) => [a, i] as const).filter(([a]) => a.zone === z);
        const names = idx.map(([a]) => a.name);
        const q = await askServer(st.dns, `${z}.${BASE}`, names);
        const r = await askServer(port, `${z}.${BASE}`, names);
        idx.forEach(([, i], k) => ((ours[i] = q[k]!), (theirs[i] = r[k]!)));
      }
      const bad = asks.flatMap((a, i) => (same(ours[i]!, theirs[i]!) ? [] : [`${a.key} in ${a.zone}: quorumbl ${show(ours[i]!)}, rbldnsd ${show(theirs[i]!)}`]));
      const listed = ours.filter((s) => s && s.a.length > 0).length;
      const exemptOrClean = ours.filter((s) => s && !s.found).length;
      assert.ok(listed > 1000 && exemptOrClean > 1000, `a sample with both: ${listed} listed, ${exemptOrClean} NXDOMAIN`);
      const multi = ours.filter((s) => s && s.a.length > 1).length;
      t.diagnostic(`${asks.length} questions over 10,000 keys: ${listed} listed (${multi} with several A), ${exemptOrClean} NXDOMAIN, ${bad.length} differ`);
      assert.ok(multi >= 20, `keys with several reasons (several A records) in the sample: ${multi}`);
      assert.equal(new Set(asks.map((a) => a.key)).size, 10_000);
      assert.deepEqual([...new Set(bad)].slice(0, 30), [], `${bad.length} of ${asks.length} answers differ`);
    } finally {
      proc.kill();
    }

    // conditional GET: unchanged zone, 304; an override, a new ETag with the new verdict
    for (const z of ZONES) assert.equal((await download(z, { 'if-none-match': etags[z]! })).status, 304, z);
    const r = await runQuorumbl(['override', 'add', 'deny', '203.0.113.77', '--reason', 'export etag', '--config', st.cfg]);
    assert.equal(r.code, 0, r.output);
    const fresh = await poll(async () => {
      const res = await download('bl', { 'if-none-match': etags.bl! });
      return res.status === 200 ? res : undefined;
    }, 'a new bl export after the override');
    assert.notEqual(fresh.headers.get('etag'), etags.bl);
    assert.match(await fresh.text(), /^203\.0\.113\.77 :127\.0\.0\.5:/m);
  });
});
