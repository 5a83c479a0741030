/**
 * The one-shot schema job of the production stack (`docker compose`'s `schema` service): on every
 * SQL Server site, creates the database named in its URL when missing, then applies the T-SQL
 * migrations. Waits for sites that are still starting (up to `--wait-ms`, default 300000 ms).
 * Run: `node --import tsx src/db/mssql/schema-job.ts` with `DB_DRIVER=mssql` and `DB1_URL..DB4_URL`.
 * Exit code 0 when every site is ready, 1 otherwise (each failure is printed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import sql from 'mssql';
import { loadConfigOrExit } from '../../config/config.js';
import { SITES, type SiteId } from '../../domain/fragmentation.js';
import { createLogger } from '../../logging/logger.js';
import { mssqlPoolConfig, parseMssqlUrl } from './connection-config.js';
import { MssqlSiteStore } from './mssql-site-store.js';

/** Timeouts of {@link ensureMssqlDatabase}, ms. */
export interface EnsureDatabaseOptions {
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * Creates the database a site URL names, when missing, connecting to `master` with the URL's
 * credentials. The name is passed as a parameter and quoted by the server (`QUOTENAME`).
 * @returns true when it was created now
 * @throws Error when the name is not a plain identifier, or the server refuses
 */
export async function ensureMssqlDatabase(url: string, options: EnsureDatabaseOptions): Promise<boolean> {
  const { database } = parseMssqlUrl(url);
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(database)) throw new Error(`database name "${database}" must be letters, digits and "_"`);
  const pool = new sql.ConnectionPool(
    mssqlPoolConfig(url, { poolSize: 1, connectTimeoutMs: options.connectTimeoutMs, requestTimeoutMs: options.requestTimeoutMs, appName: 'ess-schema' }, 'master'),
  );
  pool.on('error', () => undefined);
  await pool.connect();
  try {
    const res = await pool
      .request()
      .input('db', sql.NVarChar(128), database)
      .query<{ created: boolean }>(
        "IF DB_ID(@db) IS NULL BEGIN DECLARE @sql NVARCHAR(300) = N'CREATE DATABASE ' + QUOTENAME(@db); EXEC (@sql); SELECT CAST(1 AS BIT) AS [created]; END ELSE SELECT CAST(0 AS BIT) AS [created];",
      );
    return res.recordset[0]?.created === true;
  } finally {
    await pool.close().catch(() => undefined);
  }
}

async function prepareSite(site: SiteId, url: string, deadline: number, log: (msg: string) => void): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (await ensureMssqlDatabase(url, { connectTimeoutMs: 5000, requestTimeoutMs: 60_000 })) log(`${site}: database created`);
      const store = new MssqlSiteStore({ site, url, poolSize: 1, connectTimeoutMs: 5000, statementTimeoutMs: 120_000 });
      try {
        return await store.migrate();
      } finally {
        await store.close();
      }
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      log(`${site}: not ready (attempt ${attempt}: ${(err as Error).message}); retrying in 2 s`);
      await sleep(2000);
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'schema' });
  if (config.driver !== 'mssql') {
    process.stderr.write('schema job: DB_DRIVER must be mssql (the PostgreSQL schema is applied by npm start)\n');
    process.exit(2);
  }
  const waitArg = process.argv.find((a) => a.startsWith('--wait-ms='));
  const deadline = Date.now() + (waitArg ? Number(waitArg.slice('--wait-ms='.length)) : 300_000);
  const results = await Promise.allSettled(
    SITES.map((site) => prepareSite(site, config.siteUrls[site], deadline, (msg) => logger.info({ site }, msg))),
  );
  let failed = 0;
  results.forEach((r, i) => {
    const site = SITES[i]!;
    if (r.status === 'fulfilled') logger.info({ site, applied: r.value }, r.value.length ? 'schema.migrated' : 'schema.up_to_date');
    else {
      failed++;
      logger.error({ site, err: r.reason }, 'schema.failed');
    }
  });
  logger.flush();
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`schema job failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
