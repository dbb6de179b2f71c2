// GET /api/v1/export/{zone}?format=rbldnsd|zonefile: a served zone as an rbldnsd data file or an
// RFC 1035 zone file (`quorumbl export`, core/zones/export.ts), streamed from the zone serve
// answers from now. Any valid token or session. Conditional: the ETag is zone + serial + format,
// Last-Modified the time this process first served that serial; If-None-Match / If-Modified-Since
// that still match get a 304 with no body, so a fleet polling every minute costs nothing while
// the zone does not change. The text is made in slices between other work (an empty chunk from
// the writer is a point to yield to DNS answers), never all at once.

import { createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../http.ts';
import { apiRouter, errors } from '../openapi.ts';
import type { LoadedZone } from '../../core/zones/store.ts';
import { EXPORT_FORMATS, ExportError, exportFileName, exportZoneOf, resolveZoneName, type ExportFormat } from '../../core/zones/export-zone.ts';
import { exportChunks } from '../../core/zones/export.ts';
import { DEFAULT_MAX_EXPANSION } from '../../core/zones/records.ts';

export interface ExportDeps {
  /** The zones serve answers now. */
  zones(): readonly LoadedZone[];
  /** The base name, for short zone names (bl, wl, dbl, SOURCE.mirror). */
  base: string;
  maxExpansion?: number;
  /** What the export could not say as DNS does (per download; logged by the caller). */
  report?(zone: string, problems: string[]): void;
  now?: () => number;
}

const params = z.object({
  zone: z.string().meta({ param: { name: 'zone', in: 'path' }, description: 'a served zone: its full name, or bl, wl, dbl, SOURCE.mirror', example: 'bl' }),
});
const query = z.object({
  format: z.enum(EXPORT_FORMATS).meta({ description: 'rbldnsd: one `combined` data file (serve it as ZONE:combined:FILE); zonefile: an RFC 1035 master file' }),
});

const CONTENT: Record<ExportFormat, string> = { rbldnsd: 'text/plain; charset=utf-8', zonefile: 'text/dns; charset=utf-8' };

const get = createRoute({
  method: 'get', path: '/{zone}', tags: ['export'], summary: 'A zone as an rbldnsd data file or a zone file', operationId: 'exportZone', 'x-scope': 'any',
  request: { params, query },
  responses: {
    200: {
      description: 'the zone, streamed; ETag "zone/serial/format", Last-Modified, Cache-Control: no-cache',
      content: { 'text/plain': { schema: z.string() }, 'text/dns': { schema: z.string() } },
    },
    304: { description: 'not modified: If-None-Match has the current ETag, or If-Modified-Since is not older than the serial' },
    ...errors(400, 401, 404, 409),
  },
});

/** If-None-Match holds `etag` (a list, weak or strong, or `*`). */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export function exportRoutes(deps: ExportDeps) {
  const app = apiRouter();
  const now = deps.now ?? Date.now;
  // when this process first served each zone's serial: the Last-Modified of its export
  const seen = new Map<string, { serial: number; at: number }>();
  app.openapi(get, async (c) => {
    const { zone: arg } = c.req.valid('param');
    const { format } = c.req.valid('query');
    const zones = deps.zones().filter((z) => z.name !== '');
    const name = resolveZoneName(zones.map((z) => z.name), arg, deps.base);
    if (name === undefined) throw new ApiError(404, `no zone "${arg}"`);
    let zone;
    try {
      zone = exportZoneOf(zones.find((z) => z.name === name)!);
    } catch (e) {
      if (e instanceof ExportError) throw new ApiError(409, e.message);
      throw e;
    }
    const serial = zone.soa?.serial ?? 0;
    let s = seen.get(name);
    if (!s || s.serial !== serial) seen.set(name, (s = { serial, at: Math.floor(now() / 1000) * 1000 }));
    const etag = `"${name}/${serial}/${format}"`;
    const headers: Record<string, string> = { etag, 'last-modified': new Date(s.at).toUTCString(), 'cache-control': 'no-cache' };
    const inm = c.req.header('if-none-match');
    const ims = c.req.header('if-modified-since');
    const fresh = inm !== undefined ? noneMatch(inm, etag) : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Date.parse(ims) >= s.at;
    if (fresh) return new Response(null, { status: 304, headers }) as never;

    const problems: string[] = [];
    const it = exportChunks(zone, format, { maxExpansion: deps.maxExpansion ?? DEFAULT_MAX_EXPANSION, report: (p) => problems.push(p) });
    // the first piece before the headers: an export that cannot start is an error status
    let first: IteratorResult<string>;
    try {
      first = it.next();
    } catch (e) {
      if (e instanceof ExportError) throw new ApiError(409, e.message);
      throw e;
    }
    const enc = new TextEncoder();
    let pending: IteratorResult<string> | null = first;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        for (;;) {
          const r = pending ?? it.next();
          pending = null;
          if (r.done) {
            if (problems.length) deps.report?.(name, problems);
            ctl.close();
            return;
          }
          if (r.value !== '') return ctl.enqueue(enc.encode(r.value));
          await new Promise((res) => setImmediate(res));
        }
      },
      cancel() {
        it.return(undefined);
      },
    });
    return new Response(body, {
      status: 200,
      headers: { ...headers, 'content-type': CONTENT[format], 'content-disposition': `attachment; filename="${exportFileName(name, format)}"` },
    }) as never;
  });
  return app;
}
