// Serves the hono app over HTTP with @hono/node-server. Resolves once listening (port 0 picks a
// free port: read it back from the result); rejects when the address cannot be bound.

import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';

export interface WebServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
/** `timeouts`: a listener facing the internet (the public page) drops a client that trickles its
 *  headers or body (node's defaults: 60 s for the headers, 300 s for the request). */
export function startWeb(opts: { app: Pick<Hono<any>, 'fetch'>; listen: { address: string; port: number }; timeouts?: { headersMs: number; requestMs: number } }): Promise<WebServer> {
  return new Promise((resolve, reject) => {
    const failed = (e: Error) => reject(new Error(`cannot listen on ${opts.listen.address}:${opts.listen.port} for the web API: ${e.message}`, { cause: e }));
    const server = serve({ fetch: opts.app.fetch, hostname: opts.listen.address, port: opts.listen.port }, (info: AddressInfo) => {
      server.off('error', failed);
      resolve({
        address: info.address,
        port: info.port,
        close: () => new Promise<void>((res, rej) => {
          server.close((e) => (e ? rej(e) : res()));
          (server as Server).closeAllConnections?.(); // idle keep-alive sockets would hold close() open
        }),
      });
    });
    server.once('error', failed);
    if (opts.timeouts) {
      (server as Server).headersTimeout = opts.timeouts.headersMs;
      (server as Server).requestTimeout = opts.timeouts.requestMs;
    }
  });
}
