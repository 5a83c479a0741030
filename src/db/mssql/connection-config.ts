/**
 * From a site URL to the `mssql` pool configuration: timeouts, pool size and TLS settings in one
 * place, as a pure function (tested without a server).
 */
import type sql from 'mssql';

/** Options of {@link mssqlPoolConfig}. Timeouts in ms. */
export interface MssqlPoolOptions {
  readonly poolSize: number;
  /** Connect (login) timeout, ms. */
  readonly connectTimeoutMs: number;
  /** Per-request timeout, ms: a hung server fails the call instead of blocking it. */
  readonly requestTimeoutMs: number;
  /** Application name shown in `sys.dm_exec_sessions`. */
  readonly appName: string;
}

const BOOL: Record<string, boolean> = { true: true, yes: true, '1': true, false: false, no: false, '0': false };

/**
 * Parses a site URL: `mssql://user:password@host:1433/database?encrypt=true&trustServerCertificate=false`
 * (`sqlserver://` too). User and password are percent-decoded, so a password with `@`, `:`, `/`, `#`
 * or `%` must be percent-encoded in the URL. `encrypt` defaults to true and
 * `trustServerCertificate` to false (set it to true for the SQL Server image's self-signed
 * certificate on a private network).
 * @throws Error naming what is wrong (never echoing the password)
 */
export function parseMssqlUrl(url: string): { server: string; port: number; database: string; user: string; password: string; encrypt: boolean; trustServerCertificate: boolean } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('SQL Server site URL is not a URL: expected mssql://user:password@host:1433/database');
  }
  if (u.protocol !== 'mssql:' && u.protocol !== 'sqlserver:') {
    throw new Error(`SQL Server site URL must start with mssql:// (got ${u.protocol}//): is DB_DRIVER=mssql meant for these URLs?`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname) throw new Error('SQL Server site URL has no host');
  if (!database || database.includes('/')) throw new Error(`SQL Server site URL of ${u.hostname} names no database (…/ess)`);
  if (!u.username || !u.password) throw new Error(`SQL Server site URL of ${u.hostname} lacks a user or password`);
  const flags: Record<string, boolean> = { encrypt: true, trustServerCertificate: false };
  for (const [key, value] of u.searchParams) {
    if (!(key in flags)) throw new Error(`SQL Server site URL of ${u.hostname}: unknown option "${key}" (known: encrypt, trustServerCertificate)`);
    const b = BOOL[value.toLowerCase()];
    if (b === undefined) throw new Error(`SQL Server site URL of ${u.hostname}: ${key} must be true or false`);
    flags[key] = b;
  }
  const port = u.port ? Number(u.port) : 1433;
  return {
    server: u.hostname,
    port,
    database,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    encrypt: flags['encrypt']!,
    trustServerCertificate: flags['trustServerCertificate']!,
  };
}

/**
 * The `mssql` pool configuration of a site: connect and request timeouts, pool bounds, UTC dates
 * (DATE and DATETIMEOFFSET values come back as UTC `Date`s), socket-level validation on acquire (a
 * connection broken by a server restart is dropped and a new one opened).
 * @throws Error from {@link parseMssqlUrl}
 */
export function mssqlPoolConfig(url: string, options: MssqlPoolOptions, database?: string): sql.config {
  const p = parseMssqlUrl(url);
  return {
    server: p.server,
    port: p.port,
    database: database ?? p.database,
    user: p.user,
    password: p.password,
    connectionTimeout: options.connectTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    validateConnection: 'socket',
    pool: { max: options.poolSize, min: 0, idleTimeoutMillis: 10_000, acquireTimeoutMillis: options.connectTimeoutMs + options.requestTimeoutMs },
    options: {
      encrypt: p.encrypt,
      trustServerCertificate: p.trustServerCertificate,
      useUTC: true,
      appName: options.appName,
      abortTransactionOnError: true,
    },
  };
}
