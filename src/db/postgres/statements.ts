/**
 * SQL text of the PostgreSQL site store, generated from the entity definitions. Identifiers come
 * only from those definitions; every value is a bind parameter.
 */
import type { EntityDef } from '../../domain/entities.js';
import type { DbValues } from '../row-codec.js';

/** A statement and its parameters. */
export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

/**
 * Journal insert and per-entity sequence gate in one statement.
 * Parameters: $1 op id, $2 region, $3 entity, $4 key, $5 action, $6 payload (JSON), $7 seq,
 * $8 epoch, $9 accepted at, $10 deleted.
 * Returns one row: `fresh` (the op was not journaled yet) and `newest` (its seq is above the
 * entity's, so it may change the row).
 */
export const journalGateSql = `
WITH j AS (
  INSERT INTO op_journal (op_id, region, entity, entity_key, action, payload, seq, epoch, outcome, accepted_at)
  VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, 'applied', $9)
  ON CONFLICT (op_id) DO NOTHING
  RETURNING op_id
), v AS (
  INSERT INTO entity_version (entity, entity_key, region, seq, deleted)
  SELECT $3, $4, $2, $7, $10 WHERE EXISTS (SELECT 1 FROM j)
  ON CONFLICT (entity, entity_key) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted
    WHERE entity_version.seq < EXCLUDED.seq
  RETURNING seq
)
SELECT EXISTS (SELECT 1 FROM j) AS fresh, EXISTS (SELECT 1 FROM v) AS newest`;

/** Insert-or-replace of a whole row (create). */
export function upsertSql(def: EntityDef, values: DbValues): Statement {
  const cols = def.columns.map((c) => c.column);
  const params = cols.map((c) => values[c] ?? null);
  const set = cols.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`);
  return {
    text: `INSERT INTO ${def.table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (id) DO UPDATE SET ${set.join(', ')} RETURNING *`,
    values: params,
  };
}

/** Update of the given mutable columns of one row by id. */
export function updateSql(def: EntityDef, id: string, values: DbValues): Statement {
  const cols = def.columns.filter((c) => c.mutable && Object.hasOwn(values, c.column)).map((c) => c.column);
  if (cols.length === 0) {
    return { text: `SELECT * FROM ${def.table} WHERE id = $1`, values: [id] };
  }
  return {
    text: `UPDATE ${def.table} SET ${cols.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING *`,
    values: [id, ...cols.map((c) => values[c] ?? null)],
  };
}

/** Delete of one row by id. */
export function deleteSql(def: EntityDef): string {
  return `DELETE FROM ${def.table} WHERE id = $1`;
}
