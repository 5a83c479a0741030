import { ENTITIES, type EntityDef, type EntityName, type Row } from '../domain/entities.js';

/** Database column values in canonical form: what the op journal, the log lines and replicas carry. */
export type DbValues = Record<string, string | number | boolean | null>;

/**
 * Converts a driver row to canonical column values: dates as `YYYY-MM-DD`, kWh as decimal text
 * with 3 decimals, VND and ints as numbers, instants as ISO strings (UTC), text as is.
 * Unknown columns are dropped.
 */
export function canonicalRow(def: EntityDef, raw: Record<string, unknown>): DbValues {
  const out: DbValues = {};
  for (const col of def.columns) {
    const v = raw[col.column];
    if (v === undefined || v === null) {
      out[col.column] = null;
      continue;
    }
    switch (col.kind) {
      case 'vnd':
      case 'int':
        out[col.column] = Number(v);
        break;
      case 'bool':
        out[col.column] = v === true || v === 1 || v === '1' || v === 't' || v === 'true';
        break;
      case 'instant':
        out[col.column] = v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
        break;
      case 'date':
        out[col.column] = v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10);
        break;
      default:
        out[col.column] = String(v);
    }
  }
  return out;
}

/** Canonical column values → the API's row (field names). */
export function toApiRow(entity: EntityName, values: DbValues): Row {
  const def = ENTITIES[entity];
  const row: Row = {};
  for (const col of def.columns) row[col.field] = values[col.column] ?? null;
  return row;
}
