import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sql from 'mssql';
import { PROJECT_ROOT } from '../../config/config.js';

/** Folder of the SQL Server migrations: `NNN_name.sql`, applied in name order. */
export const MSSQL_MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'sql', 'mssql');

/**
 * Splits a T-SQL script into batches on `GO` lines (a client-side separator, as in `sqlcmd`;
 * SQL Server itself does not know it). Empty batches are dropped.
 */
export function splitBatches(script: string): string[] {
  return script
    .split(/^[ \t]*GO[ \t]*(?:--[^\n]*)?$/im)
    .map((b) => b.trim())
    .filter((b) => b.replace(/--[^\n]*/g, '').trim().length > 0);
}

/** Creates `schema_migrations` when missing. */
export const SCHEMA_MIGRATIONS_SQL =
  "IF OBJECT_ID(N'dbo.schema_migrations', N'U') IS NULL CREATE TABLE dbo.schema_migrations (version NVARCHAR(200) NOT NULL PRIMARY KEY, applied_at DATETIMEOFFSET(3) NOT NULL DEFAULT SYSDATETIMEOFFSET())";

/**
 * Takes the migration lock for the rest of the transaction (`sp_getapplock`, the counterpart of
 * PostgreSQL's advisory lock): concurrent runs (several processes starting) apply each file once.
 */
export const MIGRATION_LOCK_SQL =
  "DECLARE @r INT; EXEC @r = sp_getapplock @Resource = N'ess-migrate', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 60000; IF @r < 0 THROW 50001, N'ess-migrate: could not take the migration lock within 60 s', 1;";

/**
 * Applies the migrations this database lacks, each file in its own transaction together with its
 * `schema_migrations` row, under an application lock. The files are written to be idempotent too
 * (every object is created only when missing), so a database set up by hand converges.
 * @returns the versions applied by this call (empty when already up to date)
 * @throws Error `migration <file> failed: …` with the server's message, after rolling back that file
 */
export async function migrateMssql(pool: sql.ConnectionPool, dir = MSSQL_MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  await pool.request().batch(SCHEMA_MIGRATIONS_SQL);
  const applied: string[] = [];
  for (const file of files) {
    const version = file.replace(/\.sql$/, '');
    const batches = splitBatches(await readFile(path.join(dir, file), 'utf8'));
    const tx = new sql.Transaction(pool);
    await tx.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
    try {
      await new sql.Request(tx).batch(MIGRATION_LOCK_SQL);
      const done = await new sql.Request(tx)
        .input('version', sql.NVarChar(200), version)
        .query('SELECT 1 AS [done] FROM dbo.schema_migrations WHERE version = @version');
      if (done.recordset.length > 0) {
        await tx.commit();
        continue;
      }
      for (const batch of batches) await new sql.Request(tx).batch(batch);
      await new sql.Request(tx).input('version', sql.NVarChar(200), version).query('INSERT INTO dbo.schema_migrations (version) VALUES (@version)');
      await tx.commit();
      applied.push(version);
    } catch (err) {
      await tx.rollback().catch(() => undefined);
      throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return applied;
}
