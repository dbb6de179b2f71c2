// The native IPv4 evidence sweep (server/native/merge_sweep.c), or null when the addon was not
// built (node-gyp failed at install): evidence.ts then runs its JS loop. The addon is an N-API
// module with no global state, so a worker thread (where the merge runs) loads its own copy.

import { createRequire } from 'node:module';
import { packagePath } from '../../core/package-root.ts';

/** Where node-gyp puts the addon (the npm install script builds it). */
export const NATIVE_SWEEP_PATH = packagePath('server/native/build/Release/merge_sweep.node');

/** Return codes of sweep4. */
export const SWEEP_DONE = 0;
/** state[3] holds the boundary whose class (state[0], state[1]) is not interned yet. */
export const SWEEP_NEW_CLASS = 1;
/** The budget of boundaries is used up: pace, then call again. */
export const SWEEP_BUDGET = 2;

export interface NativeSweep {
  /**
   * Resumable K-way merge of IPv4 boundary streams; see merge_sweep.c for the contract.
   * state: [smask, pmask, m (entries written), cur, boundaries swept]; pos, state, outStarts
   * and outCls are updated in place. Throws TypeError/RangeError on bad arguments.
   */
  sweep4(
    S: Uint32Array[],
    E: Uint32Array[],
    nSources: number,
    pos: Int32Array,
    state: Float64Array,
    direct: Int32Array,
    outStarts: Uint32Array,
    outCls: Uint16Array,
    budget: number,
  ): number;
}

/** Why the addon did not load (null when it did). */
export let nativeSweepError: string | null = null;

function load(): NativeSweep | null {
  try {
    return createRequire(import.meta.url)(NATIVE_SWEEP_PATH) as NativeSweep;
  } catch (err) {
    nativeSweepError = (err instanceof Error ? err.message : String(err)).split('\n')[0]!; // not the require stack
    return null;
  }
}

export const nativeSweep: NativeSweep | null = load();
