// Starts worker threads on the modules that answer jobs. Compiled (dist/), a worker runs the
// .js module beside its .ts name. From the sources, workers cannot start from a .ts file
// directly and loader hooks are per thread: the eval'd entry loads the module through tsx's API
// inside the worker (tsx is then resolved, so a compiled install does not need it).

import { Worker, parentPort, workerData, type Transferable } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lowerThisThread } from './thread-priority.ts';
import { COMPILED } from './package-root.ts';

/** Nice value of worker threads: parsing and merging yield the CPU to the thread that answers
 *  DNS (on Linux setpriority without a pid applies to the calling thread only). */
export const WORKER_NICE = 10;

/** The module a worker runs: callers name the .ts source (new URL('./x.ts', import.meta.url));
 *  compiled, that URL points into dist/, where the module is x.js. */
export function workerEntry(moduleUrl: URL): URL {
  return COMPILED ? new URL(moduleUrl.href.replace(/\.tsx?$/, '.js')) : moduleUrl;
}

export function tsWorker(moduleUrl: URL): Worker {
  const entry = workerEntry(moduleUrl);
  const url = JSON.stringify(entry.href);
  const lower = `import('node:os').then((os) => { try { os.setPriority(${WORKER_NICE}); } catch {} })`;
  const load = COMPILED ? `import(${url})` : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => t.tsImport(${url}, ${url}))`;
  return new Worker(`${lower}.then(() => ${load})`, {
    eval: true,
    workerData: { entry: entry.href },
  });
}

/** Sends one request to a fresh worker and resolves with its single reply. */
export function runOnce<Req, Reply>(moduleUrl: URL, req: Req): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const w = tsWorker(moduleUrl);
    let replied = false;
    w.once('message', (r: Reply) => {
      replied = true;
      void w.terminate();
      resolve(r);
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (!replied) reject(new Error(`worker thread exited (code ${code})`));
    });
    w.postMessage(req);
  });
}

/** A worker thread kept between jobs, one job at a time. Starting a thread costs about 0.6 s
 *  of CPU (the TypeScript loader and every module compiled again for the new isolate): paid
 *  once, not at every reload or merge, where it would be a burst beside DNS. The thread does
 *  not keep the process alive when idle; after a crash the next job starts a new one. */
export class JobWorker<Req, Reply> {
  private w: Worker | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly moduleUrl: URL) {}

  run(req: Req, transfer: readonly Transferable[] = []): Promise<Reply> {
    const job = this.queue.then(() => this.exec(req, transfer));
    this.queue = job.catch(() => {});
    return job;
  }

  private exec(req: Req, transfer: readonly Transferable[]): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const w = (this.w ??= tsWorker(this.moduleUrl));
      const done = (): void => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        w.unref();
      };
      const lost = (): void => {
        done();
        if (this.w === w) this.w = null;
      };
      const onMessage = (r: Reply): void => {
        done();
        resolve(r);
      };
      const onError = (err: Error): void => {
        lost();
        void w.terminate();
        reject(err);
      };
      const onExit = (code: number): void => {
        lost();
        reject(new Error(`worker thread exited (code ${code})`));
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.ref(); // a running job keeps the process alive
      w.postMessage(req, transfer);
    });
  }

  /** Stops the thread (a later job starts a new one). */
  async close(): Promise<void> {
    const w = this.w;
    this.w = null;
    if (w) await w.terminate();
  }
}

let collect: (() => void) | undefined;

/** Worker side of JobWorker, called by the module at `entry` (its import.meta.url): answers
 *  each request with handle()'s reply, then collects the garbage at once. An idle thread runs
 *  no GC on its own, and a parse or a sweep leaves hundreds of MB of dead buffers behind.
 *  Nothing happens unless that module is the thread's entry (imported elsewhere, or on the
 *  main thread, it must not answer another worker's messages). */
export function serveJobs<Req, Reply>(entry: string, handle: (req: Req) => { reply: Reply; transfer?: Transferable[] }): void {
  const port = parentPort;
  // tsx adds a ?tsx-namespace=... query to the module's URL
  if (!port || (workerData as { entry?: string } | null)?.entry !== entry.replace(/\?.*$/, '')) return;
  if (!collect) {
    lowerThisThread();
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  port.on('message', (req: Req) => {
    const { reply, transfer = [] } = handle(req);
    try {
      port.postMessage(reply, transfer);
    } catch {
      port.postMessage(reply); // a buffer that cannot move (a view into a pool) is copied
    }
    collect!();
  });
}
