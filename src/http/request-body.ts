import type { Context } from 'hono';
import { EssError } from '../domain/errors.js';

/**
 * Reads a JSON request body.
 * @throws EssError `unsupported_media_type` when the content type is not JSON,
 *   `bad_request` when the body is empty or not valid JSON (with the parser's message)
 */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new EssError('unsupported_media_type', `content-type must be application/json (got "${type || 'none'}")`);
  }
  const text = await c.req.text();
  if (text.trim() === '') throw new EssError('bad_request', 'the request body is empty: expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EssError('bad_request', `malformed JSON: ${(err as Error).message}`);
  }
}

/**
 * Parses an optional non-negative integer query parameter.
 * @throws EssError `bad_request` naming the parameter
 */
export function intParam(c: Context, name: string, opts: { min: number; max: number }): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < opts.min || n > opts.max) {
    throw new EssError('bad_request', `query parameter "${name}" must be an integer from ${opts.min} to ${opts.max} (got "${raw}")`);
  }
  return n;
}

/**
 * The `Idempotency-Key` header, if any.
 * @throws EssError `bad_request` when it is empty or longer than 200 characters
 */
export function idempotencyKey(c: Context): string | undefined {
  const k = c.req.header('idempotency-key');
  if (k === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,200}$/.test(k)) {
    throw new EssError('bad_request', 'Idempotency-Key must be 1 to 200 visible ASCII characters');
  }
  return k;
}
