import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { EssError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../logging/logger.js';

/** The one place where an error code becomes an HTTP status. */
export const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  validation_failed: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  idempotency_mismatch: 422,
  parent_missing: 422,
  row_missing: 409,
  has_children: 409,
  rejected_by_site: 422,
  unavailable: 503,
  site_unavailable: 503,
  internal: 500,
};

/** Errors of the Redis client that mean "Redis is not reachable now". */
export function isRedisDown(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|Connection is closed|enableOfflineQueue|Command timed out|ECONNREFUSED|ECONNRESET|Reached the max retries/i.test(e?.message ?? '')
  );
}

/** The JSON body of an error answer. */
export function errorBody(err: EssError): { error: { code: ErrorCode; message: string; fields?: unknown } } {
  return { error: { code: err.code, message: err.message, ...(err.details?.fields ? { fields: err.details.fields } : {}) } };
}

/** Hono `onError`: domain errors to their status; Redis down to a fast 503; the rest to 500, logged. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof EssError) return c.json(errorBody(err), STATUS_OF[err.code]);
    if (err instanceof HTTPException) {
      if (err.status === 401) return c.json({ error: { code: 'unauthorized', message: 'admin token required' } }, 401);
      return c.json({ error: { code: 'bad_request', message: err.message } }, err.status as ContentfulStatusCode);
    }
    if (isRedisDown(err)) {
      return c.json({ error: { code: 'unavailable', message: `Redis is not reachable: writes cannot be accepted now (${err.message})` } }, 503, { 'Retry-After': '1' });
    }
    logger.error({ err, path: c.req.path }, 'http.unhandled_error');
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  };
}
