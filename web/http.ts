// JSON errors and JSON bodies for the API. Every error is `{ "error": message, "field"?: name }`
// with the HTTP status; a body that fails validation names the first field at fault.

import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { diskCodeOf, diskErrorOf, DiskUnavailableError, type DiskGuard } from '../core/disk.ts';
import { InputError } from '../sync/local/keys.ts';
import type { Principal } from './auth.ts';
import type { Session } from '../sync/local/sessions.ts';

/** `token`: the request's principal (a bearer token or a console user; web/auth.ts); `session`:
 *  the console session when the request came with one. */
export type Env = { Variables: { token: Principal; session?: Session } };

/** An API error with its status and (for 400) the field at fault. */
export class ApiError extends Error {
  constructor(readonly status: ContentfulStatusCode, message: string, readonly field?: string, readonly headers?: Record<string, string>) {
    super(message);
    this.name = 'ApiError';
  }
}

export function errorResponse(c: Context, status: ContentfulStatusCode, message: string, field?: string, headers?: Record<string, string>): Response {
  return c.json(field === undefined ? { error: message } : { error: message, field }, status, headers);
}

/** Maps thrown errors to JSON responses (the app's onError). A write that failed on the state
 *  disk (full, read-only, I/O error) is a 503 naming the cause, with Retry-After; it is handed
 *  to the disk watcher (which logs it once), not logged per request. */
export function toResponse(c: Context, e: unknown, log?: (e: unknown) => void, disk?: DiskGuard): Response {
  if (e instanceof ApiError) return errorResponse(c, e.status, e.message, e.field, e.headers);
  if (e instanceof InputError) return errorResponse(c, 400, e.message, e.field);
  if (e instanceof DiskUnavailableError) return errorResponse(c, 503, e.message, undefined, { 'Retry-After': String(e.retryAfterSec) });
  const fault = diskErrorOf(e);
  if (fault) {
    if (!disk?.report(e)) log?.(e);
    const refusal = disk?.refusal();
    if (refusal) return errorResponse(c, 503, refusal.message, undefined, { 'Retry-After': String(refusal.retryAfterSec) });
    const what = fault === 'full' ? 'the state disk is full' : fault === 'readonly' ? 'the state directory is read-only' : 'the state disk reports I/O errors';
    return errorResponse(c, 503, `${what} (${diskCodeOf(e)}): the change was not saved`, undefined, { 'Retry-After': '10' });
  }
  // Another process (a shell `quorumbl sync`, a backup) held the database's write lock for the
  // whole busy timeout: nothing was written; the client should retry, not see a 500. (Write
  // transactions begin IMMEDIATE, so a busy lock is waited for, never failed at once.)
  if ((e as { code?: string })?.code === 'SQLITE_BUSY') {
    log?.(e);
    return errorResponse(c, 503, 'the state database is busy (another process holds its write lock): nothing was saved; retry', undefined, { 'Retry-After': '1' });
  }
  if (e instanceof HTTPException) return errorResponse(c, e.status as ContentfulStatusCode, e.message || 'request failed');
  log?.(e);
  return errorResponse(c, 500, 'internal error');
}

/** The request body as JSON, checked against `schema`: 415 without a JSON content type, 400 for
 *  malformed JSON or a failed check (naming the field). */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new ApiError(415, 'the body must be JSON (Content-Type: application/json)');
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    throw new ApiError(400, 'the body is not valid JSON');
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw zodFailure(r.error);
  return r.data;
}

/** The ApiError (400) for a failed zod check: the first issue, naming its field; an unknown
 *  field by name. Shared by jsonBody and the OpenAPI routes' validation hook (web/openapi.ts). */
export function zodFailure(error: z.ZodError): ApiError {
  const issue = error.issues[0]!;
  const field = issue.path.length ? issue.path.map(String).join('.') : undefined;
  if (issue.code === 'unrecognized_keys') {
    const k = issue.keys[0]!;
    return new ApiError(400, `unknown field '${k.length > 40 ? k.slice(0, 40) + '...' : k}'`, k.length > 40 ? undefined : k);
  }
  if (!field && issue.code === 'invalid_type') return new ApiError(400, 'the body must be a JSON object');
  return new ApiError(400, field ? `${field}: ${issue.message}` : issue.message, field);
}

/** A numeric id from the path (1..2^53). */
export function idParam(c: Context, name = 'id'): number {
  const v = c.req.param(name) ?? '';
  if (!/^[1-9]\d{0,14}$/.test(v)) throw new ApiError(400, `${name} must be a positive integer`, name);
  return Number(v);
}
