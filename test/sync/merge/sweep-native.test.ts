// The native IPv4 sweep (server/native/merge_sweep.c) against the JS loop of evidence.ts, the
// reference: same intervals, same class ids in the same order, same bytes in the buffers, over
// seeded random inputs, through stops for new classes and budgets small enough to resume at
// every boundary. Also: the addon loads in a worker thread, and bad arguments throw.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { RangeBuilder4, emptyRangeSet4, type RangeSet4 } from '../../../core/ranges.ts';
import { Pacer, UNPACED } from '../../../core/pace.ts';
import { ClassTable, sweep4 } from '../../../sync/merge/evidence.ts';
import { NATIVE_SWEEP_PATH, nativeSweep, nativeSweepError, type NativeSweep } from '../../../sync/merge/native-sweep.ts';
import { rng } from './helpers.ts';

/** The addon, or null after t.skip when it was not built; a built addon that fails to load fails. */
function addon(t: TestContext): NativeSweep | null {
  if (nativeSweep) return nativeSweep;
  assert.ok(!existsSync(NATIVE_SWEEP_PATH), `${NATIVE_SWEEP_PATH} exists but does not load: ${nativeSweepError}`);
  t.skip(`merge_sweep addon not built (node-gyp rebuild --directory=server/native): ${nativeSweepError}`);
  return null;
}

const TOP = 0xffffffff;

/** Random ranges in one of a few shapes; some touch address 0 or end at 2^32-1. */
function randomSet(r: () => number): RangeSet4 {
  const b = new RangeBuilder4();
  const shape = Math.floor(r() * 6);
  if (shape === 0) return emptyRangeSet4();
  const n = Math.floor(r() * (shape === 5 ? 8 : 60));
  // a small universe at the bottom or the top of the space (many shared boundaries), or all of it
  const base = shape === 1 ? 0 : shape === 2 ? TOP - 399 : -1;
  for (let i = 0; i < n; i++) {
    if (base >= 0) {
      const s = base + Math.floor(r() * 400);
      const e = Math.min(base + 399, s + (r() < 0.6 ? 0 : Math.floor(r() * 25)));
      b.add(s, e);
    } else {
      const s = Math.floor(r() * 2 ** 32);
      const len = r() < 0.5 ? 0 : Math.floor(r() * 2 ** (8 + Math.floor(r() * 20)));
      b.add(s, Math.min(TOP, s + len));
    }
  }
  if (r() < 0.15) b.add(0, Math.floor(r() * 3)); // a range at 0: cls[0] is not class 0
  if (r() < 0.15) b.add(TOP - Math.floor(r() * 3), TOP); // closes nothing
  if (r() < 0.03) b.add(0, TOP);
  return b.build();
}

class CountingPacer extends Pacer {
  calls = 0;
  override check(): void {
    this.calls++;
  }
}

/** Counts what the addon returns (0 done, 1 new class, 2 budget). */
function counted(native: NativeSweep): { native: NativeSweep; codes: number[] } {
  const codes = [0, 0, 0];
  return {
    codes,
    native: {
      sweep4(...args: Parameters<NativeSweep['sweep4']>): number {
        const r = native.sweep4(...args);
        codes[r]!++;
        return r;
      },
    },
  };
}

interface Swept {
  starts: Uint32Array;
  cls: Uint16Array;
  src: number[];
  prov: number[];
}

function sweepWith(sets: RangeSet4[], nSources: number, native: NativeSweep | null, pacer: Pacer = UNPACED, paceEvery?: number): Swept {
  const table = new ClassTable(nSources, sets.length - nSources);
  const { starts, cls } = sweep4(sets, nSources, table, pacer, native, paceEvery);
  return { starts, cls, src: table.src, prov: table.prov };
}

const bytes = (a: Uint32Array | Uint16Array): Buffer => Buffer.from(a.buffer, 0, a.buffer.byteLength);

/** Same intervals, same class table, and the same bytes in the whole buffers (past the end too). */
function assertSame(got: Swept, want: Swept, what: string): void {
  assert.equal(got.starts.length, want.starts.length, `${what}: interval count`);
  assert.ok(bytes(got.starts).equals(bytes(want.starts)), `${what}: starts differ`);
  assert.ok(bytes(got.cls).equals(bytes(want.cls)), `${what}: class ids differ`);
  assert.deepEqual(got.src, want.src, `${what}: class sources`);
  assert.deepEqual(got.prov, want.prov, `${what}: class providers`);
}

test('native and JS sweeps agree on seeded random inputs (every lane count and the array loop)', (t) => {
  const native = addon(t);
  if (!native) return;
  let stops = 0;
  let multiStop = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    // K up to 20 (the direct class table's limit): 1..16 streams run in registers, 17..20 not
    const nS = Math.floor(r() * (seed % 4 === 0 ? 15 : 7));
    const nP = Math.min(20 - nS, Math.floor(r() * (seed % 4 === 0 ? 7 : 3)));
    const sets = Array.from({ length: nS + nP }, () => randomSet(r));
    const c = counted(native);
    const got = sweepWith(sets, nS, c.native);
    const want = sweepWith(sets, nS, null);
    assertSame(got, want, `seed ${seed} (${nS} sources, ${nP} providers)`);
    stops += c.codes[1]!;
    if (c.codes[1]! > 1) multiStop++;
    // again on the table the JS sweep filled: no stops, the addon writes every entry itself
    const table = new ClassTable(nS, nP);
    sweep4(sets, nS, table, UNPACED, null);
    const again = counted(native);
    const out = sweep4(sets, nS, table, UNPACED, again.native);
    assertSame({ ...out, src: table.src, prov: table.prov }, want, `seed ${seed}, classes interned`);
    assert.equal(again.codes[1], 0, 'no stop for a class already interned');
  }
  assert.ok(multiStop > 100, `new-class stops were exercised (${stops} in all)`);
});

test('small budgets: resumes at every boundary or few give the same output, and pace', (t) => {
  const native = addon(t);
  if (!native) return;
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(1000 + seed);
    const wide = seed % 5 === 0; // 17..20 streams: the array loop, not the register lanes
    const nS = wide ? 12 + Math.floor(r() * 4) : 1 + Math.floor(r() * 5);
    const nP = wide ? 17 - nS + Math.floor(r() * 4) : Math.floor(r() * 3);
    const sets = Array.from({ length: nS + nP }, () => randomSet(r));
    const want = sweepWith(sets, nS, null);
    for (const every of [1, 2, 3, 7, 64]) {
      const pacer = new CountingPacer();
      const c = counted(native);
      const got = sweepWith(sets, nS, c.native, pacer, every);
      assertSame(got, want, `seed ${seed}, budget ${every}`);
      // every emitted interval but the first ends a boundary, and each budget used up paces once
      assert.ok(pacer.calls >= Math.floor((got.starts.length - 1) / every), `seed ${seed}, budget ${every}: ${pacer.calls} pacer checks`);
      assert.ok(pacer.calls >= c.codes[2]!, 'each budget used up paces');
      if (every === 1 && got.starts.length > 2) assert.ok(c.codes[2]! > 1, 'the budget stopped the sweep');
    }
  }
});

test('edge inputs: no sets, empty sets, the whole space, 0 and 2^32-1, one source over 16 lanes', (t) => {
  const native = addon(t);
  if (!native) return;
  const one = (s: number, e: number): RangeSet4 => {
    const b = new RangeBuilder4();
    b.add(s, e);
    return b.build();
  };
  const cases: [string, RangeSet4[], number][] = [
    ['no sets', [], 0],
    ['empty sets', [emptyRangeSet4(), emptyRangeSet4(), emptyRangeSet4()], 2],
    ['whole space', [one(0, TOP)], 1],
    ['whole space twice', [one(0, TOP), one(0, TOP)], 1],
    ['address 0 only', [one(0, 0)], 1],
    ['last address only', [one(TOP, TOP)], 1],
    ['0 and last, apart', [one(0, 0), one(TOP, TOP)], 2],
    ['provider only', [emptyRangeSet4(), one(5, 9)], 0],
    ['16 nested', Array.from({ length: 16 }, (_, i) => one(100 + i, 200 - i)), 10],
    ['17 nested', Array.from({ length: 17 }, (_, i) => one(100 + i, TOP - i)), 17],
    ['20 identical', Array.from({ length: 20 }, () => one(7, 7)), 12],
  ];
  for (const [what, sets, nS] of cases) {
    for (const every of [1, 65536]) assertSame(sweepWith(sets, nS, native, UNPACED, every), sweepWith(sets, nS, null), what);
  }
});

test('more than 20 streams: no direct table, the JS loop runs (same result either way)', (t) => {
  const native = addon(t);
  if (!native) return;
  const r = rng(77);
  const sets = Array.from({ length: 24 }, () => randomSet(r));
  const c = counted(native);
  assertSame(sweepWith(sets, 22, c.native), sweepWith(sets, 22, null), '22 + 2');
  assert.deepEqual(c.codes, [0, 0, 0], 'the addon was not called');
});

test('the addon loads and sweeps inside a worker thread', async (t) => {
  if (!addon(t)) return;
  const r = rng(5);
  const sets = Array.from({ length: 6 }, () => randomSet(r));
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(tsx)}).then(async (tsx) => {
      const ns = await tsx.tsImport(${JSON.stringify(new URL('../../../sync/merge/native-sweep.ts', self).href)}, ${JSON.stringify(self)});
      const ev = await tsx.tsImport(${JSON.stringify(new URL('../../../sync/merge/evidence.ts', self).href)}, ${JSON.stringify(self)});
      const pace = await tsx.tsImport(${JSON.stringify(new URL('../../../core/pace.ts', self).href)}, ${JSON.stringify(self)});
      const table = new ev.ClassTable(4, 2);
      const out = ev.sweep4(workerData, 4, table, pace.UNPACED, ns.nativeSweep, 5);
      parentPort.postMessage({ loaded: ns.nativeSweep !== null, error: ns.nativeSweepError, starts: out.starts, cls: out.cls, src: table.src, prov: table.prov });
    }).catch((err) => parentPort.postMessage({ loaded: false, error: String(err && err.stack || err) }));
  `;
  const w = new Worker(code, { eval: true, workerData: sets });
  try {
    const got = await new Promise<Swept & { loaded: boolean; error: string | null }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.ok(got.loaded, `addon in the worker: ${got.error}`);
    assertSame(got, sweepWith(sets, 4, null), 'worker');
  } finally {
    await w.terminate();
  }
});

test('bad arguments throw TypeError or RangeError, never crash', (t) => {
  const native = addon(t);
  if (!native) return;
  const S = [Uint32Array.of(1, 10), Uint32Array.of(5)];
  const E = [Uint32Array.of(2, 12), Uint32Array.of(6)];
  const ok = (): Parameters<NativeSweep['sweep4']> => [
    S.slice(), E.slice(), 1, new Int32Array(2), Float64Array.of(0, 0, 1, 0, 0),
    new Int32Array(4).fill(-1), new Uint32Array(7), new Uint16Array(7), 100,
  ];
  // the good call works (and stops at the first new class)
  assert.equal(native.sweep4(...ok()), 1);
  const bad: [string, (a: unknown[]) => void, RegExp][] = [
    ['too few arguments', (a) => a.splice(8), /expects 9 arguments/],
    ['S not an array', (a) => (a[0] = S[0]), /S must be an array/],
    ['E shorter than S', (a) => (a[1] = [E[0]]), /S and E differ/],
    ['S[1] not a Uint32Array', (a) => ((a[0] as unknown[])[1] = Int32Array.of(5)), /S\[1\] must be a Uint32Array/],
    ['E[0] a plain array', (a) => ((a[1] as unknown[])[0] = [2, 12]), /E\[0\] must be a Uint32Array/],
    ['S[0] and E[0] lengths', (a) => ((a[1] as unknown[])[0] = Uint32Array.of(2)), /differ in length/],
    ['nSources above K', (a) => (a[2] = 3), /nSources/],
    ['nSources fractional', (a) => (a[2] = 0.5), /nSources/],
    ['nSources a string', (a) => (a[2] = '1'), /nSources must be a number/],
    ['pos a Uint32Array', (a) => (a[3] = new Uint32Array(2)), /pos must be an Int32Array/],
    ['pos too short', (a) => (a[3] = new Int32Array(1)), /pos must have 2 entries/],
    ['pos past the stream', (a) => (a[3] = Int32Array.of(5, 0)), /pos\[0\] = 5/],
    ['pos negative', (a) => (a[3] = Int32Array.of(0, -1)), /pos\[1\] = -1/],
    ['state short', (a) => (a[4] = new Float64Array(4)), /state must have 5/],
    ['state m = 0', (a) => (a[4] = Float64Array.of(0, 0, 0, 0, 0)), /m\) must be/],
    ['state smask too wide', (a) => (a[4] = Float64Array.of(2, 0, 1, 0, 0)), /smask/],
    ['state pmask NaN', (a) => (a[4] = Float64Array.of(0, NaN, 1, 0, 0)), /pmask/],
    ['direct too small', (a) => (a[5] = new Int32Array(3)), /direct must have 2\^2/],
    ['direct a Float64Array', (a) => (a[5] = new Float64Array(4)), /direct must be an Int32Array/],
    ['direct holds junk', (a) => (a[5] = Int32Array.of(0, 70000, 70000, 70000)), /not a class id/],
    ['outStarts too short', (a) => (a[6] = new Uint32Array(6)), /hold 6 entries/],
    ['outCls a Uint32Array', (a) => (a[7] = new Uint32Array(7)), /outCls must be a Uint16Array/],
    ['budget 0', (a) => (a[8] = 0), /budget must be at least 1/],
    ['budget negative', (a) => (a[8] = -5), /budget/],
    ['budget Infinity', (a) => (a[8] = Infinity), /budget/],
    ['too many streams', (a) => {
      a[0] = Array.from({ length: 65 }, () => new Uint32Array(0));
      a[1] = Array.from({ length: 65 }, () => new Uint32Array(0));
    }, /at most 64 streams/],
  ];
  for (const [what, spoil, msg] of bad) {
    const args = ok() as unknown[];
    spoil(args);
    assert.throws(() => (native.sweep4 as (...a: unknown[]) => number)(...args), (err: Error) => {
      assert.ok(err instanceof TypeError || err instanceof RangeError, `${what}: ${err}`);
      assert.match(err.message, /^merge_sweep\.sweep4: /, what);
      assert.match(err.message, msg, what);
      return true;
    }, what);
  }
});
