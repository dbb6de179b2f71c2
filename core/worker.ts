// Starts a worker thread on a TypeScript module. Workers cannot start from a .ts file
// directly, and loader hooks are per thread: the eval'd entry loads the module through tsx's
// API inside the worker.

import { Worker } from 'node:worker_threads';

const TSX_API = import.meta.resolve('tsx/esm/api');

/** Nice value of worker threads: parsing and merging yield the CPU to the thread that answers
 *  DNS (on Linux setpriority without a pid applies to the calling thread only). */
export const WORKER_NICE = 10;

export function tsWorker(moduleUrl: URL): Worker {
  const url = JSON.stringify(moduleUrl.href);
  const lower = `import('node:os').then((os) => { try { os.setPriority(${WORKER_NICE}); } catch {} })`;
  return new Worker(`${lower}.then(() => import(${JSON.stringify(TSX_API)})).then((t) => t.tsImport(${url}, ${url}))`, { eval: true });
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
