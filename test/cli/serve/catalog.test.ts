// The catalog's membership and serial across zone changes and restarts (cli/serve/catalog.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../../core/config/load.ts';
import type { LoadedZone } from '../../../core/zones/store.ts';
import { setupCatalog } from '../../../cli/serve/catalog.ts';
import { memberId } from '../../../server/xfr/catalog.ts';

const soa = { ttl: 60, mname: 'ns.', rname: 'h.', serial: 1, refresh: 60, retry: 60, expire: 600, minimum: 60 };
const zone = (name: string, withSoa = true): LoadedZone => ({
  name,
  datasets: [{ type: 'zone-meta', ttl: 0, meta: withSoa ? { soa } : {}, size: 0, query: () => false, dump: () => {}, snapshot: () => ({ type: 'x', meta: null, arrays: [] }) }],
  newestMtime: 0,
  failed: false,
});

function setup(dir: string, acl = '"*": { allow: [127.0.0.1/32], keys: [k] }') {
  const file = join(dir, 'q.yaml');
  writeFileSync(
    file,
    `state_dir: ${dir}\nbase: x.test\nproviders: []\ntransfer:\n  keys: [{ name: k, secret: "${Buffer.alloc(32, 1).toString('base64')}" }]\n  acl: { ${acl} }\n  catalog: cat.x.test\n`,
  );
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  return { cat: setupCatalog(loadConfig(file), dir, log)!, lines };
}

const ptrs = (z: LoadedZone) => [...z.datasets[0]!.records!({ maxExpansion: 1, report: () => {} })].filter((r) => r.type === 12).map((r) => r.data);

test('members: transferable zones with an SOA; the serial rises only when they change and survives a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumbl-cat-'));
  try {
    const a = setup(dir);
    const out = a.cat.extend([zone('bl.x.test'), zone('wl.x.test'), zone('nosoa.x.test', false), zone('')]);
    const cat = out.at(-1)!;
    assert.equal(cat.name, 'cat.x.test');
    assert.deepEqual(ptrs(cat), ['bl.x.test.', 'wl.x.test.']);
    const s1 = a.cat.serial;
    assert.equal(cat.datasets[0]!.meta.soa!.serial, s1);
    a.cat.extend([zone('wl.x.test'), zone('bl.x.test')]);
    assert.equal(a.cat.serial, s1, 'same members (any order): same serial');
    a.cat.extend([zone('bl.x.test'), zone('wl.x.test'), zone('dbl.x.test')]);
    const s2 = a.cat.serial;
    assert.ok(s2 > s1, 'a member added: a higher serial');
    // a restart with the same zones keeps the serial; the ids are the same
    const b = setup(dir);
    const again = b.cat.extend([zone('dbl.x.test'), zone('bl.x.test'), zone('wl.x.test')]).at(-1)!;
    assert.equal(b.cat.serial, s2);
    const names = [...again.datasets[0]!.records!({ maxExpansion: 1, report: () => {} })].map((r) => r.name);
    assert.ok(names.includes(`${memberId('bl.x.test')}.zones`));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8')).serial, s2);
    // a restart with one zone fewer: a higher serial again
    const c = setup(dir);
    c.cat.extend([zone('bl.x.test')]);
    assert.ok(c.cat.serial > s2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only zones an acl entry names are members', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumbl-cat-'));
  try {
    const { cat } = setup(dir, 'bl: { allow: [127.0.0.1/32], keys: [k] }');
    assert.deepEqual(ptrs(cat.extend([zone('bl.x.test'), zone('wl.x.test')]).at(-1)!), ['bl.x.test.']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the serial cannot be saved: the catalog is still served, a warning says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorumbl-cat-'));
  try {
    const { cat, lines } = setup(dir);
    mkdirSync(join(dir, 'catalog.json.tmp')); // the write fails even as root
    const out = cat.extend([zone('bl.x.test')]);
    assert.equal(out.at(-1)!.name, 'cat.x.test');
    assert.ok(lines.some((l) => l.includes('catalog serial not saved')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
