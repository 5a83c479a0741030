import pino from 'pino';

/** The logger type used everywhere (pino). */
export type Logger = pino.Logger;

/** Paths redacted from every log line: connection strings, tokens, passwords. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'adminToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'url',
  '*.url',
  'siteUrls',
  'redisUrl',
];

/**
 * Creates the process's root logger: pino JSON on stdout, errors under `err`, secrets redacted.
 * Per-request and per-job context goes through `child()`.
 */
export function createLogger(options: { level: string; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    base: { pid: process.pid, service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  });
}
