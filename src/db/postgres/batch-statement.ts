/**
 * A batch of ops with whole rows as prepared statements (performance path, docs/benchmark.md):
 * replicated ops with their source's rows, and creates on a primary (the row is the op's values),
 * one op or a group of them. (It replaced a one-statement create that failed on purpose with
 * SQLSTATE 22012 for a superseded op and fell back to a transaction.)
 * One statement per entity table takes the whole group as arrays (`unnest`), so PostgreSQL plans
 * it once per connection (a named statement) however many ops it carries; a batch of one table
 * without repeated keys is one round trip and one commit.
 *
 * Each op gets what `PostgresSiteStore.applyOp` does for a whole row:
 * - exactly once: an op id already in the journal changes nothing (`ess_dup`);
 * - per-entity order: the version upsert only moves forward; the row changes only when it did and
 *   the source did not supersede the op. The journal row says `superseded` when the source did,
 *   or when a non-replica op found a later one there; a replica that arrives after a later op of
 *   its entity (replicate jobs run in any order) is journaled `applied`, its source's outcome, and
 *   changes nothing.
 * An entity key may appear once per statement (PostgreSQL refuses an upsert touching a row twice):
 * a repeated key goes into a later statement of the same transaction, which sees the earlier ones.
 */
import { ENTITIES, type ColumnKind, type EntityDef, type EntityName } from '../../domain/entities.js';
import type { BatchItem } from '../site-store.js';
import type { Statement } from './statements.js';

/** The PostgreSQL type each column kind is cast to. */
const CAST: Record<ColumnKind, string> = {
  text: 'text',
  date: 'date',
  kwh: 'numeric',
  vnd: 'bigint',
  int: 'integer',
  bool: 'boolean',
  instant: 'timestamptz',
};

const cache = new Map<string, string>();

function batchText(def: EntityDef): string {
  let text = cache.get(def.table);
  if (text) return text;
  const cols = def.columns.map((c) => c.column);
  const colArrays = def.columns.map((c, i) => `$${i + 12}::${CAST[c.kind]}[]`);
  const set = cols.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`);
  const newest = 'EXISTS (SELECT 1 FROM v WHERE v.entity_key = f.entity_key)';
  text = `
WITH input AS (
  SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::timestamptz[], $10::boolean[], $11::boolean[], ${colArrays.join(', ')})
    AS t(ord, op_id, region, entity_key, action, payload, seq, epoch, accepted_at, superseded, replica, ${cols.map((c) => `c_${c}`).join(', ')})
), fresh AS (
  SELECT i.* FROM input i WHERE NOT EXISTS (SELECT 1 FROM op_journal o WHERE o.op_id = i.op_id)
), v AS (
  INSERT INTO entity_version (entity, entity_key, region, seq, deleted)
  SELECT '${def.name}', f.entity_key, f.region, f.seq, f.action = 'delete' FROM fresh f
  ON CONFLICT (entity, entity_key) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted
    WHERE entity_version.seq < EXCLUDED.seq
  RETURNING entity_key
), j AS (
  INSERT INTO op_journal (op_id, region, entity, entity_key, action, payload, seq, epoch, outcome, accepted_at)
  SELECT f.op_id, f.region, '${def.name}', f.entity_key, f.action, f.payload::jsonb, f.seq, f.epoch,
         CASE WHEN f.superseded THEN 'superseded' WHEN f.replica OR ${newest} THEN 'applied' ELSE 'superseded' END, f.accepted_at
    FROM fresh f
  ON CONFLICT (op_id) DO NOTHING
  RETURNING op_id, outcome
), u AS (
  INSERT INTO ${def.table} (${cols.join(', ')})
  SELECT ${cols.map((c) => `f.c_${c}`).join(', ')} FROM fresh f
   WHERE f.action <> 'delete' AND NOT f.superseded AND ${newest}
  ON CONFLICT (id) DO UPDATE SET ${set.join(', ')}
  RETURNING *
), d AS (
  DELETE FROM ${def.table} t USING fresh f
   WHERE t.id = f.entity_key AND f.action = 'delete' AND NOT f.superseded AND ${newest}
  RETURNING t.id
)
SELECT i.ord AS ess_ord, NOT EXISTS (SELECT 1 FROM fresh f WHERE f.op_id = i.op_id) AS ess_dup, j.outcome AS ess_outcome,
       EXISTS (SELECT 1 FROM v WHERE v.entity_key = i.entity_key) AS ess_newest, u.*
  FROM input i LEFT JOIN j ON j.op_id = i.op_id LEFT JOIN u ON u.id = i.entity_key
 ORDER BY i.ord`;
  cache.set(def.table, text);
  return text;
}

/** One prepared statement of a batch and the batch positions of its ops (its `ess_ord` values). */
export interface BatchStatement extends Statement {
  readonly name: string;
  readonly positions: readonly number[];
}

/**
 * The statements that apply `items`, in the order they must run (one transaction when more than
 * one): per entity table, in order of first appearance, a repeated key starting a further
 * statement. Each result row has `ess_ord` (the item's index in `items`), `ess_dup`,
 * `ess_outcome` (`applied` | `superseded`; null when a concurrent copy of the same op won),
 * `ess_newest` (its sequence moved the entity's version) and,
 * when the row was written, its columns.
 */
export function batchStatements(items: readonly BatchItem[]): BatchStatement[] {
  const groups: Array<{ entity: EntityName; keys: Set<string>; positions: number[] }> = [];
  items.forEach((item, i) => {
    const { entity, key } = item.op;
    // The last open group of this entity takes it unless it already has the key.
    let g: (typeof groups)[number] | undefined;
    for (let k = groups.length - 1; k >= 0; k--) {
      if (groups[k]!.entity === entity) {
        g = groups[k]!.keys.has(key) ? undefined : groups[k];
        break;
      }
    }
    if (!g) {
      g = { entity, keys: new Set(), positions: [] };
      groups.push(g);
    }
    g.keys.add(key);
    g.positions.push(i);
  });
  return groups.map(({ entity, positions }) => {
    const def = ENTITIES[entity];
    const col = (pick: (it: BatchItem) => unknown) => positions.map((p) => pick(items[p]!));
    const rowOf = (it: BatchItem) => it.change?.row ?? (it.op.action === 'delete' ? null : it.op.values);
    return {
      name: `ess_batch_${def.table}`,
      text: batchText(def),
      positions,
      values: [
        positions,
        col((it) => it.op.opId),
        col((it) => it.op.region),
        col((it) => it.op.key),
        col((it) => it.op.action),
        col((it) => JSON.stringify(it.op)),
        col((it) => it.op.seq),
        col((it) => it.epoch),
        col((it) => it.op.acceptedAt),
        col((it) => it.change?.superseded ?? false),
        col((it) => it.replica ?? false),
        ...def.columns.map((c) => col((it) => rowOf(it)?.[c.column] ?? null)),
      ],
    };
  });
}
