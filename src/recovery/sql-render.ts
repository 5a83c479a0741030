/**
 * Renders recovery changes as SQL for a site's dialect (PostgreSQL or SQL Server T-SQL). Every
 * identifier comes from the entity definitions, every value is an escaped literal of its column's
 * kind, and every statement is idempotent: a second run of the script changes nothing.
 *
 * Journaled ops (`write.applied` lines) replay as the live write path applies them: op journal
 * row first (a known op id is a no-op), then the per-entity sequence gate (`entity_version`; a
 * lower sequence changes nothing), then the change (an upsert of the whole row, or a delete).
 */
import { ENTITIES, type ColumnDef, type EntityDef } from '../domain/entities.js';
import type { OpLogLine } from '../logging/op-log-line.js';
import { checkItem, coerceValue, entityByTable, type Change, type ChangeItem, type ColumnValue } from './change.js';

/** SQL dialects of the sites. */
export type Dialect = 'postgres' | 'mssql';

/** One rendered statement and a one-line comment saying where it comes from. */
export interface RenderedStatement {
  readonly comment: string;
  /** One statement, without a trailing `;`. */
  readonly sql: string;
}

/** Raised when a change cannot be rendered (unknown table, a value that does not fit). */
export class RenderError extends Error {
  readonly code = 'render_failed';
}

type Kind = ColumnDef['kind'] | 'json';

const IDENT = /^[a-z_][a-z0-9_]*$/;

function ident(name: string, dialect: Dialect): string {
  if (!IDENT.test(name)) throw new RenderError(`not a plain identifier: ${JSON.stringify(name)}`);
  return dialect === 'mssql' ? `[${name}]` : name;
}

/**
 * A literal of a value in a dialect. Strings have their quotes doubled; PostgreSQL strings with a
 * backslash use the `E''` form (read the same whatever `standard_conforming_strings` says); T-SQL
 * strings are Unicode (`N'…'`). NUL characters are refused.
 * @throws RenderError for a value that does not fit its kind
 */
export function literal(value: ColumnValue, kind: Kind, dialect: Dialect): string {
  if (value === null) return 'NULL';
  const str = (s: string): string => {
    if (s.includes('\u0000')) throw new RenderError('a NUL character cannot be written as a literal');
    const q = s.replaceAll("'", "''");
    if (dialect === 'mssql') return `N'${q}'`;
    return s.includes('\\') ? `E'${q.replaceAll('\\', '\\\\')}'` : `'${q}'`;
  };
  const num = (n: ColumnValue): string => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new RenderError(`${JSON.stringify(n)} is not an integer`);
    return String(n);
  };
  const cast = (s: string, pg: string, ms: string) => (dialect === 'mssql' ? `CAST(${str(s)} AS ${ms})` : `${str(s)}::${pg}`);
  switch (kind) {
    case 'text':
      if (typeof value !== 'string') throw new RenderError(`${JSON.stringify(value)} is not text`);
      return str(value);
    case 'vnd':
    case 'int':
      return num(value);
    case 'bool':
      if (typeof value !== 'boolean') throw new RenderError(`${JSON.stringify(value)} is not a boolean`);
      return dialect === 'mssql' ? (value ? 'CAST(1 AS bit)' : 'CAST(0 AS bit)') : value ? 'TRUE' : 'FALSE';
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new RenderError(`${JSON.stringify(value)} is not a date`);
      return cast(value, 'date', 'date');
    case 'kwh':
      if (typeof value !== 'string' || !/^\d+\.\d{3}$/.test(value)) throw new RenderError(`${JSON.stringify(value)} is not kWh decimal text`);
      return cast(value, 'numeric', 'decimal(12,3)');
    case 'instant':
      if (typeof value !== 'string' || Number.isNaN(new Date(value).getTime())) throw new RenderError(`${JSON.stringify(value)} is not an instant`);
      return cast(value, 'timestamptz', 'datetimeoffset');
    case 'json':
      if (typeof value !== 'string') throw new RenderError('json must be text');
      return dialect === 'mssql' ? str(value) : `${str(value)}::jsonb`;
  }
}

function columnsOf(def: EntityDef, values: Readonly<Record<string, ColumnValue>>): ColumnDef[] {
  return def.columns.filter((c) => Object.hasOwn(values, c.column));
}

/** Upsert of the given columns of one row (insert, or update of those columns when they differ). */
function upsert(def: EntityDef, values: Readonly<Record<string, ColumnValue>>, d: Dialect, onlyIfPg?: string): string {
  const cols = columnsOf(def, values);
  const t = ident(def.table, d);
  const names = cols.map((c) => ident(c.column, d));
  const lits = cols.map((c) => literal(values[c.column]!, c.kind, d));
  const rest = cols.filter((c) => c.column !== 'id').map((c) => ident(c.column, d));
  if (d === 'postgres') {
    const source = onlyIfPg ? `SELECT ${lits.join(', ')} WHERE ${onlyIfPg}` : `VALUES (${lits.join(', ')})`;
    const conflict = rest.length
      ? `ON CONFLICT (id) DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')} WHERE (${rest.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${rest.map((c) => `EXCLUDED.${c}`).join(', ')})`
      : 'ON CONFLICT (id) DO NOTHING';
    return `INSERT INTO ${t} AS t (${names.join(', ')}) ${source} ${conflict}`;
  }
  const using = `SELECT ${cols.map((c, i) => `${lits[i]} AS ${names[i]}`).join(', ')}`;
  const matched = rest.length
    ? ` WHEN MATCHED AND EXISTS (SELECT ${rest.map((c) => `s.${c}`).join(', ')} EXCEPT SELECT ${rest.map((c) => `t.${c}`).join(', ')}) THEN UPDATE SET ${rest.map((c) => `t.${c} = s.${c}`).join(', ')}`
    : '';
  return `MERGE ${t} WITH (HOLDLOCK) AS t USING (${using}) AS s ON t.[id] = s.[id]${matched} WHEN NOT MATCHED THEN INSERT (${names.join(', ')}) VALUES (${names.map((n) => `s.${n}`).join(', ')});`;
}

/** Renders a checked plain item. */
function renderItem(item: ChangeItem, d: Dialect): string {
  const checked = checkItem(item);
  if ('error' in checked) throw new RenderError(checked.error);
  const { values, key, action } = checked.item;
  const def = entityByTable(item.table)!;
  const t = ident(def.table, d);
  const id = ident('id', d);
  const keyLit = literal(key, 'text', d);
  if (action === 'insert') return upsert(def, values, d);
  if (action === 'delete') return `DELETE FROM ${t} WHERE ${id} = ${keyLit}`;
  const cols = columnsOf(def, values);
  const set = cols.map((c) => `${ident(c.column, d)} = ${literal(values[c.column]!, c.kind, d)}`).join(', ');
  const lits = cols.map((c) => literal(values[c.column]!, c.kind, d));
  const names = cols.map((c) => ident(c.column, d));
  const differs =
    d === 'postgres'
      ? `(${names.join(', ')}) IS DISTINCT FROM (${lits.join(', ')})`
      : `EXISTS (SELECT ${lits.join(', ')} EXCEPT SELECT ${names.join(', ')})`;
  return `UPDATE ${t} SET ${set} WHERE ${id} = ${keyLit} AND ${differs}`;
}

/** The canonical row of a journaled op, checked column by column. */
function opRow(def: EntityDef, line: OpLogLine): Record<string, ColumnValue> {
  if (!line.row) throw new RenderError(`${line.action} ${line.opId} has no row in its log line`);
  const out: Record<string, ColumnValue> = {};
  for (const col of def.columns) {
    const r = coerceValue(col, line.row[col.column] ?? null);
    if ('error' in r) throw new RenderError(`row of ${line.opId}: ${r.error}`);
    out[col.column] = r.value;
  }
  if (out['id'] !== line.key) throw new RenderError(`row of ${line.opId} has id ${JSON.stringify(out['id'])}, not its key ${line.key}`);
  return out;
}

/** The root branch of a row, where the row says it (the queue partition of a replayed op). */
function branchIdOf(def: EntityDef, line: OpLogLine): string | undefined {
  if (def.name === 'branch') return line.key;
  const v = line.row?.['branch_id'] ?? line.values['branch_id'] ?? line.row?.['to_branch_id'];
  return typeof v === 'string' ? v : undefined;
}

/** Renders a journaled op: journal row, sequence gate, change. */
function renderOp(line: OpLogLine, d: Dialect): string {
  const def = ENTITIES[line.entity];
  if (!def || def.table !== line.table) throw new RenderError(`entity ${line.entity} / table ${line.table} is not in the schema`);
  const deleted = line.action === 'delete';
  const payload = JSON.stringify({
    opId: line.opId,
    region: line.region,
    entity: line.entity,
    key: line.key,
    action: line.action,
    seq: line.seq,
    branchId: branchIdOf(def, line),
    values: line.values,
    acceptedAt: line.acceptedAt,
    recoveredFrom: 'op-log',
  });
  const L = (v: ColumnValue, k: Kind) => literal(v, k, d);
  const i = (n: string) => ident(n, d);
  const outcome = line.outcome === 'superseded' ? 'superseded' : 'applied';
  const journalCols = ['op_id', 'region', 'entity', 'entity_key', 'action', 'payload', 'seq', 'epoch', 'outcome', 'accepted_at'].map(i).join(', ');
  const journalVals = [
    L(line.opId, 'text'),
    L(line.region, 'text'),
    L(line.entity, 'text'),
    L(line.key, 'text'),
    L(line.action, 'text'),
    L(payload, 'json'),
    L(line.seq, 'int'),
    L(line.epoch, 'int'),
    L(outcome, 'text'),
    L(line.acceptedAt, 'instant'),
  ].join(', ');
  const row = deleted || outcome === 'superseded' ? undefined : opRow(def, line);
  if (d === 'postgres') {
    const journal = `INSERT INTO op_journal (${journalCols}) VALUES (${journalVals}) ON CONFLICT (op_id) DO NOTHING`;
    if (outcome === 'superseded') return journal;
    const gate =
      `WITH j AS (${journal} RETURNING op_id), ` +
      `v AS (INSERT INTO entity_version (entity, entity_key, region, seq, deleted) SELECT ${L(line.entity, 'text')}, ${L(line.key, 'text')}, ${L(line.region, 'text')}, ${L(line.seq, 'int')}, ${deleted ? 'TRUE' : 'FALSE'} WHERE EXISTS (SELECT 1 FROM j) ` +
      `ON CONFLICT (entity, entity_key) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted WHERE entity_version.seq < EXCLUDED.seq RETURNING seq) `;
    if (deleted) return `${gate}DELETE FROM ${i(def.table)} WHERE id = ${L(line.key, 'text')} AND EXISTS (SELECT 1 FROM v)`;
    return gate + upsert(def, row!, d, 'EXISTS (SELECT 1 FROM v)');
  }
  const journal = `INSERT INTO [op_journal] (${journalCols}) VALUES (${journalVals});`;
  const head = `IF NOT EXISTS (SELECT 1 FROM [op_journal] WHERE [op_id] = ${L(line.opId, 'text')}) BEGIN ${journal}`;
  if (outcome === 'superseded') return `${head} END`;
  const version =
    `MERGE [entity_version] WITH (HOLDLOCK) AS t USING (SELECT ${L(line.entity, 'text')} AS [entity], ${L(line.key, 'text')} AS [entity_key]) AS s ` +
    `ON t.[entity] = s.[entity] AND t.[entity_key] = s.[entity_key] WHEN MATCHED THEN UPDATE SET [seq] = ${L(line.seq, 'int')}, [deleted] = ${deleted ? 1 : 0} ` +
    `WHEN NOT MATCHED THEN INSERT ([entity], [entity_key], [region], [seq], [deleted]) VALUES (s.[entity], s.[entity_key], ${L(line.region, 'text')}, ${L(line.seq, 'int')}, ${deleted ? 1 : 0});`;
  const change = deleted ? `DELETE FROM ${i(def.table)} WHERE [id] = ${L(line.key, 'text')};` : upsert(def, row!, d);
  return (
    `${head} IF NOT EXISTS (SELECT 1 FROM [entity_version] WHERE [entity] = ${L(line.entity, 'text')} AND [entity_key] = ${L(line.key, 'text')} AND [seq] >= ${L(line.seq, 'int')}) ` +
    `BEGIN ${version} ${change} END END`
  );
}

/**
 * Renders one change as one idempotent statement of the dialect.
 * @throws RenderError when the change does not fit the schema (it is then left out and reported)
 */
export function renderChange(change: Change, dialect: Dialect): string {
  return change.kind === 'op' ? renderOp(change.line, dialect) : renderItem(change.item, dialect);
}

/** Header facts of a script. */
export interface ScriptHeader {
  readonly site: string;
  readonly since: string;
  readonly until?: string | undefined;
  readonly generatedAt: string;
}

/**
 * The whole script: one transaction, the statements in log order, each after its comment.
 * PostgreSQL: `BEGIN; … COMMIT;`. T-SQL: `SET XACT_ABORT ON; BEGIN TRANSACTION; … COMMIT TRANSACTION;`.
 */
export function renderScript(statements: readonly RenderedStatement[], dialect: Dialect, header: ScriptHeader): string {
  const lines = [
    `-- ESS recovery script for site ${header.site} (${dialect}), generated ${header.generatedAt}`,
    `-- log entries from ${header.since}${header.until ? ` until ${header.until}` : ''}; ${statements.length} statement(s) in log order.`,
    '-- Idempotent: running it again changes nothing. Rendered from verified items only.',
    dialect === 'mssql' ? 'SET XACT_ABORT ON;\nBEGIN TRANSACTION;' : 'BEGIN;',
  ];
  for (const s of statements) {
    lines.push(`-- ${s.comment.replace(/[\r\n]+/g, ' ')}`);
    lines.push(s.sql.endsWith(';') ? s.sql : `${s.sql};`);
  }
  lines.push(dialect === 'mssql' ? 'COMMIT TRANSACTION;' : 'COMMIT;', '');
  return lines.join('\n');
}
