/**
 * The SQL Server store's connection handling, against real sockets (no SQL Server needed): URL
 * parsing, DB_DRIVER=mssql selecting the store, and a refused or hung server failing fast with
 * `site_unavailable` instead of blocking.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { isEssError } from '../../src/domain/errors.js';
import { mssqlPoolConfig, parseMssqlUrl } from '../../src/db/mssql/connection-config.js';
import { MssqlSiteStore } from '../../src/db/mssql/mssql-site-store.js';
import { closeSiteStores, openSiteStores } from '../../src/db/site-stores.js';
import { createLogger } from '../../src/logging/logger.js';

async function failure(p: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const t0 = Date.now();
  try {
    await p;
    return { code: 'resolved', ms: Date.now() - t0 };
  } catch (err) {
    return { code: isEssError(err) ? err.code : `raw: ${(err as Error).message}`, ms: Date.now() - t0 };
  }
}

describe('SQL Server site URLs', () => {
  it('parses user, password (percent-decoded), host, port, database and TLS flags', () => {
    expect(parseMssqlUrl('mssql://sa:p%40ss%3Aw0rd@db1:14331/ess?encrypt=true&trustServerCertificate=true')).toEqual({
      server: 'db1', port: 14331, database: 'ess', user: 'sa', password: 'p@ss:w0rd', encrypt: true, trustServerCertificate: true,
    });
    expect(parseMssqlUrl('sqlserver://ess_app:Secret123@10.0.0.5/ess')).toMatchObject({ port: 1433, encrypt: true, trustServerCertificate: false });
  });

  it('refuses what it cannot use, naming the problem and never the password', () => {
    const cases: Array<[string, RegExp]> = [
      ['postgres://postgres@127.0.0.1:55431/ess', /must start with mssql:\/\//],
      ['mssql://sa:Secret123@db1:1433/', /names no database/],
      ['mssql://db1:1433/ess', /lacks a user or password/],
      ['mssql://sa:Secret123@db1/ess?encrpyt=true', /unknown option "encrpyt"/],
      ['mssql://sa:Secret123@db1/ess?encrypt=maybe', /encrypt must be true or false/],
      ['not a url', /not a URL/],
    ];
    for (const [url, message] of cases) {
      expect(() => parseMssqlUrl(url), url).toThrow(message);
      try {
        parseMssqlUrl(url);
      } catch (err) {
        expect((err as Error).message).not.toContain('Secret123');
      }
    }
  });

  it('pool config: timeouts, pool bounds, UTC, socket validation, XACT_ABORT', () => {
    expect(mssqlPoolConfig('mssql://sa:x@db2:1433/ess?trustServerCertificate=true', { poolSize: 8, connectTimeoutMs: 2000, requestTimeoutMs: 10_000, appName: 'ess-db2' })).toEqual({
      server: 'db2',
      port: 1433,
      database: 'ess',
      user: 'sa',
      password: 'x',
      connectionTimeout: 2000,
      requestTimeout: 10_000,
      validateConnection: 'socket',
      pool: { max: 8, min: 0, idleTimeoutMillis: 10_000, acquireTimeoutMillis: 12_000 },
      options: { encrypt: true, trustServerCertificate: true, useUTC: true, appName: 'ess-db2', abortTransactionOnError: true },
    });
  });

  it('DB_DRIVER=mssql opens a SQL Server store per site; postgres URLs with it are refused', async () => {
    const urls = { DB1_URL: 'mssql://sa:x@db1/ess', DB2_URL: 'mssql://sa:x@db2/ess', DB3_URL: 'mssql://sa:x@db3/ess', DB4_URL: 'mssql://sa:x@db4/ess' };
    const logger = createLogger({ level: 'silent', name: 'test' });
    const stores = openSiteStores(loadConfig({ DB_DRIVER: 'mssql', ...urls, REDIS_URL: 'redis://127.0.0.1:1' }), logger);
    expect(Object.values(stores).map((s) => [s.site, s.dialect, s instanceof MssqlSiteStore])).toEqual([
      ['db1', 'mssql', true], ['db2', 'mssql', true], ['db3', 'mssql', true], ['db4', 'mssql', true],
    ]);
    await closeSiteStores(stores);
    // Without site URLs the configuration itself refuses; with PostgreSQL URLs the store does.
    expect(() => loadConfig({ DB_DRIVER: 'mssql' })).toThrow(/DB_DRIVER=mssql needs the four SQL Server site URLs/);
    const pgUrls = { DB1_URL: 'postgres://p@h/ess', DB2_URL: 'postgres://p@h/ess', DB3_URL: 'postgres://p@h/ess', DB4_URL: 'postgres://p@h/ess' };
    expect(() => openSiteStores(loadConfig({ DB_DRIVER: 'mssql', ...pgUrls }), logger)).toThrow(/must start with mssql:\/\//);
  });
});

describe('a SQL Server site that is down or hung fails fast', () => {
  let hung: net.Server;
  let hungPort = 0;
  let refusedPort = 0;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    // Accepts TCP connections and never answers: what a stopped (SIGSTOP) server looks like.
    hung = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    hungPort = (hung.address() as net.AddressInfo).port;
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    refusedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => hung.close(() => r()));
  });

  const open = (port: number, errors: Error[]) =>
    new MssqlSiteStore({ site: 'db1', url: `mssql://sa:x@127.0.0.1:${port}/ess?encrypt=false`, poolSize: 2, connectTimeoutMs: 500, statementTimeoutMs: 1000, onPoolError: (e) => errors.push(e) });

  it('refused: ping, reads and writes reject with site_unavailable at once, and again on the next call', async () => {
    const errors: Error[] = [];
    const store = open(refusedPort, errors);
    try {
      const ping = await failure(store.ping(400));
      expect(ping.code).toBe('site_unavailable');
      expect(ping.ms).toBeLessThan(1000);
      expect((await failure(store.getById('branch', 'B1'))).code).toBe('site_unavailable');
      expect((await failure(store.journalCount())).code).toBe('site_unavailable');
      const again = await failure(store.list('branch', { limit: 10 }));
      expect(again).toMatchObject({ code: 'site_unavailable' });
      expect(again.ms).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  });

  it('hung: ping gives up within its timeout; a read gives up within the connect timeout; the process survives', async () => {
    const errors: Error[] = [];
    const store = open(hungPort, errors);
    try {
      const ping = await failure(store.ping(300));
      expect(ping.code).toBe('site_unavailable');
      expect(ping.ms).toBeGreaterThanOrEqual(250);
      expect(ping.ms).toBeLessThan(1000);
      const read = await failure(store.getById('branch', 'B1'));
      expect(read.code).toBe('site_unavailable');
      expect(read.ms).toBeLessThan(2500);
    } finally {
      await store.close();
    }
    expect((await failure(store.journalCount())).code).toBe('site_unavailable');
  });
});
