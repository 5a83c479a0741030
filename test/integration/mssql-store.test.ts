/**
 * The site-store contract (test/support/site-store-contract.ts) on both dialects:
 * - PostgreSQL, always: a fresh database on the shared test cluster's db1;
 * - SQL Server, when `MSSQL_URL` is set (`mssql://sa:<password>@127.0.0.1:1433/master?trustServerCertificate=true`):
 *   a fresh database on that server, created, migrated and dropped by the suite. Skipped otherwise.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import sql from 'mssql';
import { describe, inject, it } from 'vitest';
import { ENTITIES } from '../../src/domain/entities.js';
import type { Region } from '../../src/domain/fragmentation.js';
import { mssqlPoolConfig } from '../../src/db/mssql/connection-config.js';
import { MssqlSiteStore } from '../../src/db/mssql/mssql-site-store.js';
import { ensureMssqlDatabase } from '../../src/db/mssql/schema-job.js';
import { upsertStatement } from '../../src/db/mssql/statements.js';
import { inlineStatement } from '../../src/db/mssql/tsql-literal.js';
import { PostgresSiteStore } from '../../src/db/postgres/postgres-site-store.js';
import type { SiteStore } from '../../src/db/site-store.js';
import { CONCURRENT_DELIVERIES, siteStoreContract } from '../support/site-store-contract.js';

const TIMEOUTS = { poolSize: 8, connectTimeoutMs: 3000, statementTimeoutMs: 15_000 };

async function pgAdmin(port: number, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const pgDbs = new WeakMap<SiteStore, string>();
siteStoreContract('site store contract: postgres', {
  async open() {
    const port = inject('clusterPorts').db1;
    const db = `t_contract_${randomBytes(4).toString('hex')}`;
    await pgAdmin(port, `CREATE DATABASE ${db} TEMPLATE ess`);
    const store = new PostgresSiteStore({ site: 'db1', url: `postgres://postgres@127.0.0.1:${port}/${db}`, ...TIMEOUTS });
    pgDbs.set(store, db);
    return store;
  },
  async backdateJournal(store, days) {
    await (store as PostgresSiteStore).query('UPDATE op_journal SET applied_at = applied_at - make_interval(days => $1)', [days]);
  },
  branchInsertScript(id, name, region) {
    const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
    return `INSERT INTO branch (id, name, region) VALUES (${q(id)}, ${q(name)}, ${q(region)})`;
  },
  async dispose(store) {
    await pgAdmin(inject('clusterPorts').db1, `DROP DATABASE IF EXISTS ${pgDbs.get(store)} WITH (FORCE)`);
  },
});

const MSSQL_URL = process.env['MSSQL_URL'];
if (MSSQL_URL) {
  const withDatabase = (db: string) => {
    const u = new URL(MSSQL_URL);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const msDbs = new WeakMap<SiteStore, string>();
  siteStoreContract('site store contract: mssql', {
    async open() {
      const db = `ess_contract_${randomBytes(4).toString('hex')}`;
      const url = withDatabase(db);
      await ensureMssqlDatabase(url, { connectTimeoutMs: 5000, requestTimeoutMs: 60_000 });
      const store = new MssqlSiteStore({ site: 'db1', url, ...TIMEOUTS });
      msDbs.set(store, db);
      const applied = await store.migrate();
      if (applied.join() !== '001_schema') throw new Error(`expected to apply 001_schema, applied ${applied.join() || 'nothing'}`);
      return store;
    },
    async backdateJournal(store, days) {
      await (store as MssqlSiteStore).run({
        text: 'UPDATE [op_journal] SET [applied_at] = DATEADD(DAY, -@days, [applied_at])',
        params: [{ name: 'days', type: 'int', value: days }],
      });
    },
    branchInsertScript(id, name, region: Region) {
      return inlineStatement(upsertStatement(ENTITIES.branch, { id, name, region }));
    },
    async dispose(store) {
      const db = msDbs.get(store)!;
      const pool = new sql.ConnectionPool(mssqlPoolConfig(MSSQL_URL, { poolSize: 1, connectTimeoutMs: 5000, requestTimeoutMs: 60_000, appName: 'ess-test' }, 'master'));
      pool.on('error', () => undefined);
      await pool.connect();
      try {
        await pool.request().batch(`ALTER DATABASE [${db}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [${db}];`);
      } finally {
        await pool.close();
      }
    },
  });
} else {
  describe('site store contract: mssql', () => {
    console.log('site store contract: mssql skipped: MSSQL_URL is not set (mssql://sa:<password>@127.0.0.1:1433/master?trustServerCertificate=true)');
    it.skip('runs the site-store contract against a real SQL Server (set MSSQL_URL)', () => undefined);
  });
}
