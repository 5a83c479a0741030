/**
 * One-statement apply of a create (performance path, see docs/benchmark.md): the journal row, the
 * per-entity version gate and the row upsert in a single autocommit statement (data-modifying
 * CTEs), so an op costs one round trip and one commit instead of BEGIN, gate, upsert, COMMIT.
 *
 * Same guarantees as the transactional path of `PostgresSiteStore.applyOp`:
 * - atomic: one statement is one transaction; an error anywhere (a missing parent: 23503) leaves
 *   nothing behind;
 * - exactly once: the journal insert is the gate (`ON CONFLICT (op_id) DO NOTHING`); a duplicate
 *   changes nothing and answers `fresh = false`;
 * - per-entity order: the version upsert only moves forward (`WHERE seq < EXCLUDED.seq`) and the
 *   row changes only when it did.
 * The one case the statement cannot journal correctly is a superseded op (fresh but not newest:
 * its journal row must say `superseded`); the statement then fails on purpose (division by zero,
 * SQLSTATE 22012) so nothing is kept, and the caller runs the transactional path.
 */
import type { ColumnKind, EntityDef } from '../../domain/entities.js';
import type { WriteOp } from '../../domain/write-op.js';
import type { Statement } from './statements.js';

/** SQLSTATE the statement raises for a superseded op: run the transactional path instead. */
export const SUPERSEDED_SQLSTATE = '22012';

/** The PostgreSQL type each column kind is cast to in generated statements. */
export const CAST: Record<ColumnKind, string> = {
  text: 'text',
  date: 'date',
  kwh: 'numeric',
  vnd: 'bigint',
  int: 'integer',
  bool: 'boolean',
  instant: 'timestamptz',
};

const cache = new Map<string, string>();

function createText(def: EntityDef): string {
  let text = cache.get(def.table);
  if (text) return text;
  const cols = def.columns.map((c) => c.column);
  const params = def.columns.map((c, i) => `$${i + 10}::${CAST[c.kind]}`);
  const set = cols.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`);
  text = `
WITH j AS (
  INSERT INTO op_journal (op_id, region, entity, entity_key, action, payload, seq, epoch, outcome, accepted_at)
  VALUES ($1, $2, $3, $4, 'create', $5::jsonb, $6, $7, 'applied', $8)
  ON CONFLICT (op_id) DO NOTHING
  RETURNING op_id
), v AS (
  INSERT INTO entity_version (entity, entity_key, region, seq, deleted)
  SELECT $3, $4, $2, $6, $9::boolean WHERE EXISTS (SELECT 1 FROM j)
  ON CONFLICT (entity, entity_key) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted
    WHERE entity_version.seq < EXCLUDED.seq
  RETURNING seq
), u AS (
  INSERT INTO ${def.table} (${cols.join(', ')})
  SELECT ${params.join(', ')} WHERE EXISTS (SELECT 1 FROM v)
  ON CONFLICT (id) DO UPDATE SET ${set.join(', ')}
  RETURNING *
), flags AS (
  SELECT EXISTS (SELECT 1 FROM j) AS ess_fresh, EXISTS (SELECT 1 FROM v) AS ess_newest
)
SELECT flags.ess_fresh, flags.ess_newest,
       1 / (CASE WHEN flags.ess_fresh AND NOT flags.ess_newest THEN 0 ELSE 1 END) AS ess_guard,
       u.*
  FROM flags LEFT JOIN u ON true`;
  cache.set(def.table, text);
  return text;
}

/**
 * The one-statement create of `op` under `epoch`. Its single result row has `ess_fresh`,
 * `ess_newest` and the row's columns (null when not fresh). Run it with `pool.query`, with the
 * statement's `name` (`ess_create_<table>`) so PostgreSQL plans it once per connection.
 */
export function applyCreateStatement(def: EntityDef, op: WriteOp, epoch: number): Statement & { readonly name: string } {
  return {
    name: `ess_create_${def.table}`,
    text: createText(def),
    values: [op.opId, op.region, op.entity, op.key, JSON.stringify(op), op.seq, epoch, op.acceptedAt, false, ...def.columns.map((c) => op.values[c.column] ?? null)],
  };
}
