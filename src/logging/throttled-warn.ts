import type { Logger } from './logger.js';

/** Last line written per kind of warning, and how many were held back since. */
const seen = new Map<string, { at: number; suppressed: number }>();

/**
 * Writes a connection warning at most once per `intervalMs` for the same message and error text,
 * with `suppressed`: how many identical ones were held back since the last line. While Redis is
 * down every connection reports every reconnect attempt: with 30 BullMQ workers that was about 400
 * stack traces a second, which buried everything else in the log.
 * @param fields log fields; `err` (an Error or `{ message }`) names the kind with `msg`
 * @param intervalMs at most one line per kind per this many ms @defaultValue 10000
 */
export function warnThrottled(logger: Logger, fields: { err?: unknown; [k: string]: unknown }, msg: string, intervalMs = 10_000): void {
  const kind = `${msg}|${(fields.err as { message?: string } | undefined)?.message ?? ''}`;
  const now = Date.now();
  const s = seen.get(kind);
  if (s && now - s.at < intervalMs) {
    s.suppressed++;
    return;
  }
  logger.warn(s?.suppressed ? { ...fields, suppressed: s.suppressed } : fields, msg);
  seen.set(kind, { at: now, suppressed: 0 });
}
