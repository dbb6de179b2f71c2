import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeBuilder4, RangeBuilder6, contains4, contains6, emptyRangeSet4, emptyRangeSet6, type RangeSet4, type RangeSet6 } from '../../../core/ranges.ts';
import { buildEvidence, class4, class6, classDomain, classesOf, emptyEvidence, evidenceFromSnapshot, evidenceSnapshot, interval4, sweep4, ClassTable } from '../../../sync/merge/evidence.ts';
import { buildEvidenceInWorker, retireEvidence } from '../../../sync/merge/build.ts';
import { UNPACED } from '../../../core/pace.ts';
import { decodeSnapshot, encodeSnapshot } from '../../../core/snapshot.ts';
import type { Evidence, EvidenceInputs } from '../../../sync/merge/types.ts';
import { unitRandom as rng } from '../../bench/datagen.ts';

/** Random ranges over [base, base + span). */
function randomSet4(r: () => number, base: number, span: number, n: number): RangeSet4 {
  const b = new RangeBuilder4();
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * span);
    const len = r() < 0.6 ? 0 : Math.floor(r() * 20);
    b.add(base + s, base + Math.min(span - 1, s + len));
  }
  return b.build();
}

function invariants(e: Evidence): void {
  assert.equal(e.starts4[0], 0);
  for (let i = 1; i < e.starts4.length; i++) {
    assert.ok(e.starts4[i]! > e.starts4[i - 1]!, 'starts strictly increasing');
    assert.notEqual(e.cls4[i], e.cls4[i - 1], 'neighbouring intervals differ');
  }
  const seen = new Set(classesOf(e).map((c) => `${c.sources}/${c.providers}`));
  assert.equal(seen.size, e.classSources.length, 'classes are unique');
  assert.deepEqual(classesOf(e)[0], { sources: 0, providers: 0 });
}

function check4(e: Evidence, srcs: RangeSet4[], provs: RangeSet4[], addrs: number[]): void {
  for (const ip of addrs) {
    let sm = 0;
    let pm = 0;
    srcs.forEach((s, i) => { if (contains4(s, ip)) sm |= 1 << i; });
    provs.forEach((s, i) => { if (contains4(s, ip)) pm |= 1 << i; });
    const c = class4(e, ip);
    assert.equal(e.classSources[c], sm >>> 0, `sources at ${ip}`);
    assert.equal(e.classProviders[c], pm >>> 0, `providers at ${ip}`);
  }
}

test('IPv4 sweep equals a brute-force bitmap (low addresses, top of the space, 0)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const top = seed % 2 === 0;
    const base = top ? 0xffffffff - 511 : 0;
    const nS = 1 + Math.floor(r() * 6);
    const nP = Math.floor(r() * 3);
    const srcs = Array.from({ length: nS }, () => randomSet4(r, base, 512, Math.floor(r() * 40)));
    const provs = Array.from({ length: nP }, () => randomSet4(r, base, 512, Math.floor(r() * 5)));
    if (seed % 5 === 0) srcs[0] = (() => { const b = new RangeBuilder4(); b.add(base, base + 3); b.add(0xfffffff0, 0xffffffff); return b.build(); })();
    const e = buildEvidence({
      sources: srcs.map((v4, i) => ({ name: `s${i}`, weight: 1, v4, v6: emptyRangeSet6(), domains: [] })),
      providers: provs.map((v4, i) => ({ name: `p${i}`, v4, v6: emptyRangeSet6() })),
    });
    invariants(e);
    const addrs = Array.from({ length: 512 }, (_, i) => base + i);
    check4(e, srcs, provs, [...addrs, 0, 1, 600, 0x7fffffff, 0xfffffdff, 0xffffffff]);
  }
});

test('32 sources: the top bit is a source, not a sign', () => {
  const srcs = Array.from({ length: 32 }, (_, i) => { const b = new RangeBuilder4(); b.add(100 + i, 200); return b.build(); });
  const e = buildEvidence({ sources: srcs.map((v4, i) => ({ name: `s${i}`, weight: 1, v4, v6: emptyRangeSet6(), domains: [] })), providers: [] });
  check4(e, srcs, [], Array.from({ length: 300 }, (_, i) => i));
  assert.equal(e.classSources[class4(e, 150)], 0xffffffff);
});

function w6(hi: number, w2: number, w3: number): Uint32Array {
  return Uint32Array.of(hi, 0, w2, w3);
}

test('IPv6 sweep equals a brute-force bitmap, across word carries and at the top', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const r = rng(seed * 7);
    // universe: 128 consecutive addresses across the carry from word 3 into word 2, then the
    // last 64 addresses of the space (ranges there end at all-ones)
    const fix: Uint32Array[] = [];
    for (let i = 0; i < 64; i++) fix.push(w6(0x20010db8, 0, 0xffffffc0 + i));
    for (let i = 0; i < 64; i++) fix.push(w6(0x20010db8, 1, i));
    for (let i = 0; i < 64; i++) fix.push(Uint32Array.of(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffc0 + i));
    const seg = (k: number) => (k < 128 ? 0 : 1);
    const mk = (n: number): RangeSet6 => {
      const b = new RangeBuilder6();
      for (let i = 0; i < n; i++) {
        const a = Math.floor(r() * fix.length);
        const z = Math.min(fix.length - 1, a + Math.floor(r() * 10));
        b.add(fix[a]!, seg(a) === seg(z) ? fix[z]! : fix[a]!);
      }
      return b.build();
    };
    const nS = 1 + Math.floor(r() * 5);
    const srcs = Array.from({ length: nS }, () => mk(Math.floor(r() * 20)));
    const provs = [mk(3)];
    const e = buildEvidence({
      sources: srcs.map((v6, i) => ({ name: `s${i}`, weight: 1, v4: emptyRangeSet4(), v6, domains: [] })),
      providers: provs.map((v6, i) => ({ name: `p${i}`, v4: emptyRangeSet4(), v6 })),
    });
    const bytes = (w: Uint32Array) => { const b = new Uint8Array(16); new DataView(b.buffer).setUint32(0, w[0]!); new DataView(b.buffer).setUint32(4, w[1]!); new DataView(b.buffer).setUint32(8, w[2]!); new DataView(b.buffer).setUint32(12, w[3]!); return b; };
    for (const u of [...fix, w6(0, 0, 0), w6(0x20010db8, 0, 0)]) {
      const ip = bytes(u);
      let sm = 0;
      let pm = 0;
      srcs.forEach((s, i) => { if (contains6(s, ip)) sm |= 1 << i; });
      provs.forEach((s, i) => { if (contains6(s, ip)) pm |= 1 << i; });
      const c = class6(e, ip);
      assert.equal(e.classSources[c], sm, `sources at ${u.join(':')}`);
      assert.equal(e.classProviders[c], pm);
    }
  }
});

test('domains: exact names and wildcards of every source, nearest entry carries its ancestors', () => {
  const lists = [
    ['*.evil.example', 'spam.example'],
    ['a.b.evil.example', 'evil.example', 'spam.example'],
    ['*.b.evil.example', '*.example'],
  ];
  const e = buildEvidence({ sources: lists.map((domains, i) => ({ name: `s${i}`, weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains })), providers: [] });
  const brute = (name: string): number => {
    let m = 0;
    lists.forEach((l, i) => {
      if (l.includes(name)) m |= 1 << i;
      for (let j = name.indexOf('.'); j >= 0; j = name.indexOf('.', j + 1)) if (l.includes('*.' + name.slice(j + 1))) m |= 1 << i;
    });
    return m;
  };
  for (const n of ['evil.example', 'x.evil.example', 'a.b.evil.example', 'c.b.evil.example', 'b.evil.example', 'spam.example', 'example', 'other.example', 'x.spam.example', 'nothing.test', 'com']) {
    assert.equal(e.classSources[classDomain(e, n)], brute(n), n);
  }
});

test('snapshot round trip and the worker build give the same evidence', async () => {
  const r = rng(99);
  const inputs: EvidenceInputs = {
    sources: [0, 1, 2].map((i) => ({ name: `s${i}`, weight: i + 1, v4: randomSet4(r, 1 << 24, 1 << 16, 2000), v6: emptyRangeSet6(), domains: i === 1 ? ['a.example', '*.b.example'] : [] })),
    providers: [{ name: 'prov', v4: randomSet4(r, 1 << 24, 1 << 16, 10), v6: emptyRangeSet6() }],
    serial: 42,
  };
  const e = buildEvidence(inputs);
  const back = evidenceFromSnapshot(decodeSnapshot(Buffer.concat(encodeSnapshot({ key: 'k', stamps: [], part: evidenceSnapshot(e) }))).part);
  const viaWorker = (await buildEvidenceInWorker(inputs)).evidence;
  // a paced sweep (a re-merge beside DNS traffic) builds the same evidence
  const paced = (await buildEvidenceInWorker(inputs, { cpuShare: 0.05 })).evidence;
  for (const x of [back, viaWorker, paced]) {
    assert.equal(x.serial, 42);
    assert.deepEqual(x.sourceNames, e.sourceNames);
    assert.deepEqual([...x.starts4], [...e.starts4]);
    assert.deepEqual([...x.cls4], [...e.cls4]);
    assert.deepEqual([...x.classSources], [...e.classSources]);
    assert.deepEqual([...x.classProviders], [...e.classProviders]);
    assert.deepEqual(x.domains, e.domains);
    assert.deepEqual([...x.domCls], [...e.domCls]);
  }
  // inputs were copied, not transferred: still usable here
  assert.ok(inputs.sources[0]!.v4.start.length > 0);
  // transferInputs hands the arrays over (detached here), same result
  const copy: EvidenceInputs = { ...inputs, sources: inputs.sources.map((s) => ({ ...s, v4: { start: s.v4.start.slice(), end: s.v4.end.slice() } })) };
  const moved = (await buildEvidenceInWorker(copy, { transferInputs: true })).evidence;
  assert.equal(copy.sources[0]!.v4.start.length, 0, 'detached');
  assert.deepEqual([...moved.starts4], [...e.starts4]);
});

test('the IPv4 bucket index finds the same interval as a binary search over all starts', () => {
  const plain = (s: Uint32Array, ip: number): number => {
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid]! <= ip) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const r = rng(7);
  // sizes around the bucket-count steps; starts spread, clustered in one bucket, and at bucket edges
  for (const n of [1, 2, 17, 4096, 5000, 70_000, 300_000]) {
    for (const shape of ['spread', 'cluster', 'edges'] as const) {
      if (shape === 'edges' && n > 8000) continue; // 2^13 edge addresses to choose from
      const set = new Set<number>([0]);
      while (set.size < n) {
        const x = shape === 'spread' ? Math.floor(r() * 2 ** 32)
          : shape === 'cluster' ? 0x0a000000 + Math.floor(r() * 4 * n)
          : (Math.floor(r() * 2 ** 12) * 2 ** 20 + (r() < 0.5 ? 0 : 2 ** 20 - 1)) >>> 0;
        set.add(x);
      }
      const starts4 = Uint32Array.from([...set].sort((a, b) => a - b));
      const e = { ...emptyEvidence(), starts4, cls4: new Uint16Array(starts4.length), index4: undefined };
      const probes = [0, 1, 0xffffffff, 0xfffffffe, 0x0a000000, 0x7fffffff];
      for (const s of starts4.subarray(0, 2000)) probes.push(s, Math.max(0, s - 1), Math.min(0xffffffff, s + 1));
      for (let i = 0; i < 5000; i++) probes.push(Math.floor(r() * 2 ** 32));
      for (const ip of probes) assert.equal(interval4(e, ip), plain(starts4, ip), `n ${n} ${shape}: ${ip}`);
      assert.ok(e.index4 !== undefined, 'the index is built on first use');
    }
  }
  // a merged evidence carries its index (built in the merge thread)
  const v4 = randomSet4(rng(3), 0x01000000, 2 ** 24, 3000);
  const built = buildEvidence({ sources: [{ name: 's', weight: 1, v4, v6: emptyRangeSet6(), domains: [] }], providers: [] });
  assert.ok(built.index4 && built.index4.at.length > 256);
});

test('a merge written into a retired evidence\'s buffers equals a fresh one (JS and native sweeps)', async () => {
  const r = rng(11);
  // enough intervals that the retired columns are worth handing back (>= 1 MiB)
  const srcs = Array.from({ length: 3 }, () => randomSet4(r, 0x0a000000, 2 ** 24, 200_000));
  const inputs: EvidenceInputs = {
    sources: srcs.map((v4, i) => ({ name: `s${i}`, weight: 1, v4, v6: emptyRangeSet6(), domains: [] })),
    providers: [{ name: 'p', v4: randomSet4(r, 0x0a100000, 2 ** 16, 20), v6: emptyRangeSet6() }],
  };
  const fresh = buildEvidence(inputs);
  const same = (x: Evidence): void => {
    assert.deepEqual([...x.starts4], [...fresh.starts4]);
    assert.deepEqual([...x.cls4].map((c) => x.classSources[c]), [...fresh.cls4].map((c) => fresh.classSources[c]));
    assert.deepEqual([...x.index4!.at], [...fresh.index4!.at]);
  };
  // stale contents (all ones) must not leak into the new evidence, address 0 included
  const dirty = (bytes: number): ArrayBuffer => new Uint8Array(bytes).fill(0xff).buffer;
  const spare = { starts: dirty(fresh.starts4.buffer.byteLength), cls: dirty(fresh.cls4.buffer.byteLength), index: dirty(fresh.index4!.at.byteLength) };
  const reused = buildEvidence({ ...inputs, spare });
  assert.equal(reused.starts4.buffer, spare.starts, 'written into the spare buffer');
  same(reused);
  const table = new ClassTable(3, 1);
  const sets = [...srcs, inputs.providers[0]!.v4];
  const js = sweep4(sets, 3, table, UNPACED, null, 65536, { starts: dirty(fresh.starts4.buffer.byteLength), cls: dirty(fresh.cls4.buffer.byteLength) });
  assert.deepEqual([...js.starts], [...fresh.starts4]);

  // through the merge thread: a retired evidence's buffers go to the next merge (detached here)
  const first = (await buildEvidenceInWorker(inputs)).evidence;
  retireEvidence(first);
  const next = (await buildEvidenceInWorker(inputs)).evidence;
  assert.equal(first.starts4.length, 0, 'the retired columns were handed over');
  same(next);
});
