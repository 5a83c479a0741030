import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { PROJECT_ROOT } from '../../config/config.js';

/** Folder of the PostgreSQL migrations: `NNN_name.sql`, applied in name order. */
export const POSTGRES_MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'sql', 'postgres');

/**
 * Applies the migrations this database lacks, each in its own transaction, recording them in
 * `schema_migrations`. An advisory lock serialises concurrent runs (several processes starting).
 * @returns the versions applied by this call (empty when already up to date).
 */
export async function migratePostgres(pool: pg.Pool): Promise<string[]> {
  const files = (await readdir(POSTGRES_MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(7265001)');
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const sql = await readFile(path.join(POSTGRES_MIGRATIONS_DIR, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
        applied.push(version);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(7265001)').catch(() => undefined);
    client.release();
  }
  return applied;
}
