import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { EssError } from '../domain/errors.js';

/** Largest request body accepted, bytes (a batch of 1,000 readings is about 150 kB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

function tooLarge(): EssError {
  return new EssError('payload_too_large', `the request body is over ${MAX_BODY_BYTES} bytes`);
}

/**
 * The body as text, at most {@link MAX_BODY_BYTES}. Under `@hono/node-server` it is read straight
 * from Node's `IncomingMessage` (`c.env.incoming`): building the fetch `Request` and its web
 * stream cost about a fifth of the gateway's CPU per write (docs/benchmark.md). Elsewhere (tests
 * through `app.request()`) it is `c.req.text()`.
 * @throws EssError `payload_too_large`
 */
export async function readBodyText(c: Context): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && typeof incoming.on === 'function' && !incoming.readableDidRead) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        incoming.resume(); // drain the rest, so the 413 can be sent on this connection
        throw tooLarge();
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size).toString('utf8');
  }
  const text = await c.req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw tooLarge();
  return text;
}

/**
 * Reads a JSON request body.
 * @throws EssError `unsupported_media_type` when the content type is not JSON,
 *   `bad_request` when the body is empty or not valid JSON (with the parser's message),
 *   `payload_too_large` over {@link MAX_BODY_BYTES}
 */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new EssError('unsupported_media_type', `content-type must be application/json (got "${type || 'none'}")`);
  }
  const text = await readBodyText(c);
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
