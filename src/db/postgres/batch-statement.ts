/**
 * A batch of ops as one round trip and one commit (performance path, docs/benchmark.md): replicated
 * ops with their whole rows, and creates on a primary (the whole row is the op's values):
 * one statement per op, all sent in a single simple-protocol query, which PostgreSQL runs as one
 * implicit transaction ("multiple statements in a simple Query message", PostgreSQL 15 docs,
 * protocol-flow 55.2.2.1): an error in any statement rolls back the whole batch.
 *
 * The simple protocol carries no bind parameters, so values are inlined as literals quoted by
 * `pg.escapeLiteral` (the driver's own quoting) and cast to the column's type; identifiers come
 * only from the entity definitions. Each statement does what `PostgresSiteStore.applyOp` does for a
 * whole row, in one step:
 * - exactly once: an op id already in the journal changes nothing (`ess_dup`);
 * - per-entity order: the version upsert only moves forward; the row changes only when it did and
 *   the source did not supersede the op; otherwise the journal row says `superseded`.
 */
import pg from 'pg';
import type { EntityDef } from '../../domain/entities.js';
import { CAST } from './apply-statement.js';
import { ENTITIES } from '../../domain/entities.js';
import type { BatchItem } from '../site-store.js';


function lit(v: unknown, cast: string): string {
  if (v === null || v === undefined) return `NULL::${cast}`;
  return `${pg.escapeLiteral(String(v))}::${cast}`;
}

/**
 * The statement installing one replicated op. Its one result row has `ess_dup` (the op was
 * journaled before: nothing done), `ess_outcome` (`applied` | `superseded`, null when a concurrent
 * copy of the same op won) and, when the row was written, its columns.
 */
export function batchItemStatement(item: BatchItem): string {
  const { op, epoch, change } = item;
  const def: EntityDef = ENTITIES[op.entity];
  const isDelete = op.action === 'delete';
  const superseded = change?.superseded ?? false;
  const row = change?.row ?? (isDelete ? null : op.values);
  const id = lit(op.key, 'text');
  const write =
    isDelete || !row
      ? `d AS (
  DELETE FROM ${def.table} WHERE id = ${id} AND ${isDelete} AND NOT ${superseded} AND EXISTS (SELECT 1 FROM v) RETURNING id
), u AS (SELECT NULL::text AS ess_none WHERE false)`
      : `u AS (
  INSERT INTO ${def.table} (${def.columns.map((c) => c.column).join(', ')})
  SELECT ${def.columns.map((c) => lit(row[c.column], CAST[c.kind])).join(', ')} WHERE NOT ${superseded} AND EXISTS (SELECT 1 FROM v)
  ON CONFLICT (id) DO UPDATE SET ${def.columns
    .filter((c) => c.column !== 'id')
    .map((c) => `${c.column} = EXCLUDED.${c.column}`)
    .join(', ')}
  RETURNING *
)`;
  return `WITH seen AS (
  SELECT EXISTS (SELECT 1 FROM op_journal WHERE op_id = ${lit(op.opId, 'text')}) AS dup
), v AS (
  INSERT INTO entity_version (entity, entity_key, region, seq, deleted)
  SELECT ${lit(op.entity, 'text')}, ${id}, ${lit(op.region, 'text')}, ${lit(op.seq, 'bigint')}, ${isDelete} FROM seen WHERE NOT seen.dup
  ON CONFLICT (entity, entity_key) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted
    WHERE entity_version.seq < EXCLUDED.seq
  RETURNING seq
), j AS (
  INSERT INTO op_journal (op_id, region, entity, entity_key, action, payload, seq, epoch, outcome, accepted_at)
  SELECT ${lit(op.opId, 'text')}, ${lit(op.region, 'text')}, ${lit(op.entity, 'text')}, ${id}, ${lit(op.action, 'text')},
         ${lit(JSON.stringify(op), 'jsonb')}, ${lit(op.seq, 'bigint')}, ${lit(epoch, 'bigint')},
         CASE WHEN NOT ${superseded} AND EXISTS (SELECT 1 FROM v) THEN 'applied' ELSE 'superseded' END, ${lit(op.acceptedAt, 'timestamptz')}
    FROM seen WHERE NOT seen.dup
  ON CONFLICT (op_id) DO NOTHING
  RETURNING outcome
), ${write}
SELECT (SELECT dup FROM seen) AS ess_dup, (SELECT outcome FROM j) AS ess_outcome, u.* FROM (SELECT 1) AS one LEFT JOIN u ON true`;
}

/** The statements of a batch joined into one simple-protocol query text. */
export function batchText(items: readonly BatchItem[]): string {
  return items.map(batchItemStatement).join(';\n');
}
