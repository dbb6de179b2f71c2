// A loopback HTTP server for the fetch tests: fixtures with ETag / Last-Modified / 304, gzip,
// redirects, and injected faults. Every request is logged so tests can count attempts.

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { FIXTURES } from './helpers.ts';

export const LIST = readFileSync(join(FIXTURES, 'list.txt'));
export const LIST_GZ = readFileSync(join(FIXTURES, 'list.txt.gz'));
export const ETAG = '"list-v1"';
export const LAST_MODIFIED = 'Sat, 01 Jun 2024 00:00:00 GMT';

export interface Hit {
  path: string;
  headers: IncomingMessage['headers'];
}

export class FixtureServer {
  hits: Hit[] = [];
  port = 0;
  private server: Server;
  private sockets = new Set<Socket>();
  private timers = new Set<NodeJS.Timeout>();
  private counters = new Map<string, number>();

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  count(path: string): number {
    return this.hits.filter((h) => h.path === path).length;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private nth(key: string): number {
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    return n;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    this.hits.push({ path, headers: req.headers });
    const [route, arg] = path.split('?') as [string, string | undefined];
    switch (route) {
      case '/list.txt': {
        const inm = req.headers['if-none-match'];
        const ims = req.headers['if-modified-since'];
        const fresh = inm !== undefined ? inm === ETAG : ims !== undefined && Date.parse(ims) >= Date.parse(LAST_MODIFIED);
        res.setHeader('ETag', ETAG);
        res.setHeader('Last-Modified', LAST_MODIFIED);
        if (fresh) {
          res.writeHead(304).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': LIST.length }).end(LIST);
        return;
      }
      case '/gzip/list.txt': {
        const body = gzipSync(LIST);
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(body);
        return;
      }
      case '/deflate/list.txt': {
        const body = deflateSync(LIST);
        res.writeHead(200, { 'Content-Encoding': 'deflate' }).end(body); // chunked
        return;
      }
      case '/list.txt.gz':
        res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': LIST_GZ.length }).end(LIST_GZ);
        return;
      case '/gzip-garbage': {
        const body = Buffer.from('this is not gzip at all, just text pretending\n'.repeat(20));
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(body);
        return;
      }
      case '/gzip-bomb': {
        const body = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x31)); // ~8 KB on the wire
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(body);
        return;
      }
      case '/redirect': {
        // /redirect?N -> /redirect?N-1 ... -> /list.txt
        const n = Number(arg ?? '1');
        res.writeHead(n > 1 ? 302 : 301, { Location: n > 1 ? `/redirect?${n - 1}` : '/list.txt' }).end();
        return;
      }
      case '/loop-a':
        res.writeHead(302, { Location: '/loop-b' }).end();
        return;
      case '/loop-b':
        res.writeHead(307, { Location: this.url('/loop-a') }).end();
        return;
      case '/flaky': {
        // `arg` failures (HTTP 500) before a success, counted per route+arg
        const n = this.nth(path);
        if (n <= Number(arg ?? '1')) {
          res.writeHead(500, 'Internal Server Error').end('boom');
          return;
        }
        res.writeHead(200, { 'Content-Length': LIST.length }).end(LIST);
        return;
      }
      case '/always-500':
        res.writeHead(503, 'Service Unavailable').end('down');
        return;
      case '/not-found':
        res.writeHead(404, 'Not Found').end('no');
        return;
      case '/too-many': {
        // 429 Retry-After `arg` seconds once, then the list
        const n = this.nth(path);
        if (n === 1) {
          res.writeHead(429, { 'Retry-After': arg ?? '1' }).end();
          return;
        }
        res.writeHead(200, { 'Content-Length': LIST.length }).end(LIST);
        return;
      }
      case '/hang':
        return; // headers never come
      case '/drip': {
        // headers at once, then one byte every 100 ms, forever
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        const t = setInterval(() => res.write('1'), 100);
        this.timers.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      case '/truncated': {
        // Content-Length promises more than is sent, then the connection drops
        res.writeHead(200, { 'Content-Length': 1000 });
        res.write(LIST);
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      case '/truncated-chunked': {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write(LIST);
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      case '/big': {
        const body = Buffer.alloc(2 * 1024 * 1024, 0x41);
        res.writeHead(200, { 'Content-Length': body.length }).end(body);
        return;
      }
      case '/big-chunked': {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        let sent = 0;
        const pump = () => {
          while (sent < 64 && res.write(chunk)) sent++;
          if (sent >= 64) res.end();
          else res.once('drain', () => (sent++, pump()));
        };
        pump();
        res.on('error', () => {});
        return;
      }
      case '/empty':
        res.writeHead(200, { 'Content-Length': 0, ETag: '"empty"' }).end();
        return;
      default:
        res.writeHead(404).end();
    }
  }
}
