/**
 * The changes a recovery script is made of, and the checks of one column value against its kind.
 * SQL is rendered from these (`sql-render.ts`), never taken from a log or a model.
 */
import { ENTITIES, type ColumnDef, type EntityDef } from '../domain/entities.js';
import { normalizeKwh } from '../domain/kwh.js';
import type { OpLogLine } from '../logging/op-log-line.js';
import { ID_PATTERN } from '../write/validation.js';

/** Actions of a change item: `insert` is rendered as an upsert (idempotent). */
export const ITEM_ACTIONS = ['insert', 'update', 'delete'] as const;
/** See {@link ITEM_ACTIONS}. */
export type ItemAction = (typeof ITEM_ACTIONS)[number];

/** A column value in canonical form (kWh decimal text, VND integers, dates `YYYY-MM-DD`, ISO instants). */
export type ColumnValue = string | number | boolean | null;

/**
 * One change to one row, by its key: what a deterministic rule or a verified model item yields.
 * `values` holds database column names; on `insert` they include `id` (equal to `key`).
 */
export interface ChangeItem {
  readonly table: string;
  readonly action: ItemAction;
  readonly key: string;
  readonly values: Readonly<Record<string, ColumnValue>>;
}

/**
 * A change to render: a journaled op from this system's op log (replayed through the op journal
 * and the per-entity sequence gate), or a plain item (foreign entries, model items).
 */
export type Change = { readonly kind: 'op'; readonly line: OpLogLine } | { readonly kind: 'item'; readonly item: ChangeItem };

/** The entity whose table is `table`, or undefined. */
export function entityByTable(table: string): EntityDef | undefined {
  return Object.values(ENTITIES).find((e) => e.table === table);
}

function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/**
 * Reads a value for a column in canonical form.
 * @returns the value, or `{ error }` saying why it does not fit the column
 */
export function coerceValue(col: ColumnDef, v: unknown): { value: ColumnValue } | { error: string } {
  const bad = (what: string) => ({ error: `${col.column}: ${JSON.stringify(v)} is not ${what}` });
  if (v === null) return col.required ? bad('allowed (the column is required)') : { value: null };
  switch (col.kind) {
    case 'text': {
      if (typeof v !== 'string' && typeof v !== 'number') return bad('text');
      const s = String(v).trim();
      if (s.length === 0) return bad('a non-empty text');
      if (s.includes('\u0000')) return bad('text without NUL characters');
      if ((col.column === 'id' || col.column.endsWith('_id')) && !ID_PATTERN.test(s)) return bad('an id (letters, digits, "_", "." or "-")');
      if (col.maxLength !== undefined && s.length > col.maxLength) return bad(`at most ${col.maxLength} characters`);
      return { value: s };
    }
    case 'date': {
      const s = typeof v === 'string' ? v.trim().slice(0, 10) : '';
      return /^\d{4}-\d{2}-\d{2}$/.test(s) && isRealDate(s) ? { value: s } : bad('a date YYYY-MM-DD');
    }
    case 'kwh': {
      const s = normalizeKwh(v);
      return s === undefined ? bad('a non-negative kWh amount') : { value: s };
    }
    case 'vnd': {
      const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
      return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? { value: n } : bad('whole VND (a non-negative integer)');
    }
    case 'int': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return bad('an integer');
      if ((col.min !== undefined && n < col.min) || (col.max !== undefined && n > col.max)) return bad(`between ${col.min} and ${col.max}`);
      return { value: n };
    }
    case 'bool':
      if (v === true || v === 1 || v === 'true' || v === '1') return { value: true };
      if (v === false || v === 0 || v === 'false' || v === '0') return { value: false };
      return bad('true or false');
    case 'instant': {
      if (typeof v !== 'string') return bad('an ISO 8601 instant');
      const d = new Date(v);
      return /[Zz]|[+-]\d{2}:?\d{2}$/.test(v) && !Number.isNaN(d.getTime()) ? { value: d.toISOString() } : bad('an ISO 8601 instant with an offset');
    }
  }
}

/**
 * Checks a change item against the schema: known table and columns, an id key, value kinds, a
 * non-key update of mutable columns only, every required column on insert, nothing but the key on
 * delete. Returns the item with canonical values.
 * @returns the checked item, or `{ error }` with the first reason it fails
 */
export function checkItem(item: ChangeItem): { item: ChangeItem } | { error: string } {
  const def = entityByTable(item.table);
  if (!def) return { error: `table "${item.table}" is not in the schema (known: ${Object.values(ENTITIES).map((e) => e.table).join(', ')})` };
  if (!ID_PATTERN.test(item.key)) return { error: `key ${JSON.stringify(item.key)} is not one row's id` };
  const values: Record<string, ColumnValue> = {};
  for (const [column, raw] of Object.entries(item.values)) {
    const col = def.columns.find((c) => c.column === column);
    if (!col) return { error: `column "${column}" is not in table ${def.table}` };
    const r = coerceValue(col, raw);
    if ('error' in r) return r;
    values[column] = r.value;
  }
  if (item.action === 'delete') {
    const extra = Object.keys(values).filter((c) => c !== 'id' || values[c] !== item.key);
    if (extra.length) return { error: `a delete carries values (${extra.join(', ')}); it deletes by its key only` };
    return { item: { ...item, values: {} } };
  }
  if ('id' in values && values['id'] !== item.key) return { error: `id ${JSON.stringify(values['id'])} differs from the key ${JSON.stringify(item.key)}` };
  if (item.action === 'insert') {
    values['id'] = item.key;
    const missing = def.columns.filter((c) => c.required && values[c.column] === undefined).map((c) => c.column);
    if (missing.length) return { error: `an insert into ${def.table} lacks required column(s) ${missing.join(', ')}` };
    return { item: { ...item, values } };
  }
  delete values['id'];
  if (Object.keys(values).length === 0) return { error: 'an update that changes no column' };
  const fixed = Object.keys(values).filter((c) => !def.columns.find((x) => x.column === c)!.mutable);
  if (fixed.length) return { error: `an update of column(s) that never change: ${fixed.join(', ')}` };
  return { item: { ...item, values } };
}
