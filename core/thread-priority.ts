// Lowers the calling (worker) thread below the thread that answers DNS: SCHED_IDLE through the
// native addon (server/native/thread_prio.c) where it was built, else nice (core/worker.ts sets
// WORKER_NICE when the thread starts). An idle-class thread runs on CPU time no other thread
// wants and never preempts one: a reload or merge then fills the gaps between DNS packets
// instead of taking the CPU that the DNS thread or the DNS client was about to use.

import { createRequire } from 'node:module';
import { packagePath } from './package-root.ts';

export const THREAD_PRIO_PATH = packagePath('server/native/build/Release/thread_prio.node');

interface ThreadPrio {
  /** 0, or the errno of sched_setscheduler (ENOSYS without SCHED_IDLE). */
  idleThisThread(): number;
}

function load(): ThreadPrio | null {
  try {
    return createRequire(import.meta.url)(THREAD_PRIO_PATH) as ThreadPrio;
  } catch {
    return null; // not built (node-gyp failed at install): nice only
  }
}

/** 'idle' when this thread is now SCHED_IDLE, else 'nice' (left as it was started). */
export function lowerThisThread(): 'idle' | 'nice' {
  const addon = load();
  return addon !== null && addon.idleThisThread() === 0 ? 'idle' : 'nice';
}
