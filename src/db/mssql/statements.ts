/**
 * T-SQL text of the SQL Server site store, generated from the entity definitions by pure functions
 * (a unit test compares every statement with its expected text). Identifiers come only from those
 * definitions and are bracket-quoted; every value is a typed, named parameter. Upserts are
 * `MERGE … WITH (HOLDLOCK)` (the key-range lock makes the not-matched/insert branch safe under
 * concurrency); pages are `ORDER BY … OFFSET 0 ROWS FETCH NEXT @limit ROWS ONLY` after a keyset
 * cursor. Nothing PostgreSQL-only (`ON CONFLICT`, `LIMIT`, `RETURNING`, `$1`) appears here.
 */
import { ENTITIES, type ColumnDef, type ColumnKind, type EntityDef, type EntityName } from '../../domain/entities.js';
import { EssError } from '../../domain/errors.js';
import type { Region } from '../../domain/fragmentation.js';
import type { WriteOp } from '../../domain/write-op.js';
import type { DbValues } from '../row-codec.js';
import type { ListQuery } from '../site-store.js';

/**
 * SQL Server type of a parameter, as T-SQL spells it. The store maps each to the `mssql` type
 * (`nvarchar(64)` → `sql.NVarChar(64)`); a test can compare them as plain text.
 */
export type MssqlTypeName =
  | `nvarchar(${number})`
  | 'nvarchar(max)'
  | 'decimal(12,3)'
  | 'bigint'
  | 'int'
  | 'bit'
  | 'date'
  | 'datetimeoffset(3)';

/** One named parameter (`@name` in the text). */
export interface MssqlParam {
  readonly name: string;
  readonly type: MssqlTypeName;
  readonly value: string | number | boolean | null;
}

/** A T-SQL statement (or batch) and its parameters. */
export interface MssqlStatement {
  readonly text: string;
  readonly params: readonly MssqlParam[];
}

/** Columns of the reference table `region` (full copy on every site). */
const REGION_COLUMNS: readonly ColumnDef[] = [
  { field: 'id', column: 'id', kind: 'text', required: true, mutable: false, maxLength: 8 },
  { field: 'name', column: 'name', kind: 'text', required: true, mutable: true, maxLength: 200 },
];

/** Tables `tableDigest`/`rowDigests` accept: every entity table and the reference table `region`. */
export const DIGEST_TABLES: Readonly<Record<string, readonly ColumnDef[]>> = Object.freeze({
  ...Object.fromEntries(Object.values(ENTITIES).map((e) => [e.table, e.columns])),
  region: REGION_COLUMNS,
});

/** `[name]`: identifiers are generated from the entity definitions, never from input. */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new EssError('bad_request', `not an identifier: "${name}"`);
  return `[${name}]`;
}

/** The parameter type of a column: text by its max length (4000 when unbounded), kWh `decimal(12,3)`, VND `bigint`. */
export function columnType(col: ColumnDef): MssqlTypeName {
  const byKind: Record<Exclude<ColumnKind, 'text'>, MssqlTypeName> = {
    date: 'date',
    kwh: 'decimal(12,3)',
    vnd: 'bigint',
    int: 'int',
    bool: 'bit',
    instant: 'datetimeoffset(3)',
  };
  return col.kind === 'text' ? `nvarchar(${col.maxLength ?? 4000})` : byKind[col.kind];
}

function param(col: ColumnDef, value: DbValues[string] | undefined, name = col.column): MssqlParam {
  return { name, type: columnType(col), value: value ?? null };
}

function column(def: EntityDef, name: string): ColumnDef {
  const col = def.columns.find((c) => c.column === name);
  if (!col) throw new EssError('bad_request', `${def.name} has no column ${name}`);
  return col;
}

/**
 * The select list of an entity: kWh columns converted to text on the server so they keep their
 * three decimals exactly (the driver would return a float). `prefix` is `t.` or `inserted.`.
 */
export function selectList(def: EntityDef, prefix = ''): string {
  return def.columns
    .map((c) => (c.kind === 'kwh' ? `CONVERT(VARCHAR(20), ${prefix}${quoteIdent(c.column)}) AS ${quoteIdent(c.column)}` : `${prefix}${quoteIdent(c.column)}`))
    .join(', ');
}

/** The typed parameters of an op journal row's columns (types as in `sql/mssql/001_schema.sql`). */
export function journalRowParams(row: {
  opId: string;
  region: string;
  entity: string;
  key: string;
  action: string;
  payload: unknown;
  seq: number;
  epoch: number;
  acceptedAt: string;
}): MssqlParam[] {
  return [
    { name: 'op_id', type: 'nvarchar(64)', value: row.opId },
    { name: 'region', type: 'nvarchar(8)', value: row.region },
    { name: 'entity', type: 'nvarchar(40)', value: row.entity },
    { name: 'entity_key', type: 'nvarchar(64)', value: row.key },
    { name: 'action', type: 'nvarchar(10)', value: row.action },
    { name: 'payload', type: 'nvarchar(max)', value: JSON.stringify(row.payload) },
    { name: 'seq', type: 'bigint', value: row.seq },
    { name: 'epoch', type: 'bigint', value: row.epoch },
    { name: 'accepted_at', type: 'datetimeoffset(3)', value: row.acceptedAt },
  ];
}

const JOURNAL_PARAMS = (op: WriteOp, epoch: number): MssqlParam[] => journalRowParams({ ...op, payload: op, epoch });

/**
 * Journal insert and per-entity sequence gate in one batch, inside the op's transaction; the same
 * semantics as PostgreSQL's `journalGateSql`: the journal row is inserted only if the op id is new
 * (`fresh`); then `entity_version` is inserted, or raised when its `seq` is lower (`newest`). A
 * fresh op that is not newest is `superseded`; an op that is not fresh is a duplicate.
 * `UPDLOCK, HOLDLOCK` on the existence check makes a concurrent delivery of the same op wait for
 * the first one's commit instead of both inserting.
 * Returns one row: `fresh` (bit) and `newest` (bit).
 */
export function journalGateStatement(op: WriteOp, epoch: number): MssqlStatement {
  return {
    text: [
      'DECLARE @fresh BIT = 0, @newest BIT = 0;',
      'INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [accepted_at])',
      "SELECT @op_id, @region, @entity, @entity_key, @action, @payload, @seq, @epoch, N'applied', @accepted_at",
      'WHERE NOT EXISTS (SELECT 1 FROM [op_journal] WITH (UPDLOCK, HOLDLOCK) WHERE [op_id] = @op_id);',
      'IF @@ROWCOUNT = 1',
      'BEGIN',
      '  SET @fresh = 1;',
      '  MERGE [entity_version] WITH (HOLDLOCK) AS t',
      '  USING (SELECT @entity AS [entity], @entity_key AS [entity_key]) AS s',
      '  ON t.[entity] = s.[entity] AND t.[entity_key] = s.[entity_key]',
      '  WHEN MATCHED AND t.[seq] < @seq THEN UPDATE SET t.[seq] = @seq, t.[deleted] = @deleted',
      '  WHEN NOT MATCHED THEN INSERT ([entity], [entity_key], [region], [seq], [deleted]) VALUES (@entity, @entity_key, @region, @seq, @deleted);',
      '  IF @@ROWCOUNT = 1 SET @newest = 1;',
      'END;',
      'SELECT @fresh AS [fresh], @newest AS [newest];',
    ].join('\n'),
    params: [...JOURNAL_PARAMS(op, epoch), { name: 'deleted', type: 'bit', value: op.action === 'delete' }],
  };
}

/** Marks a journaled op `superseded` (same transaction as the gate). */
export function markSupersededStatement(opId: string): MssqlStatement {
  return {
    text: "UPDATE [op_journal] SET [outcome] = N'superseded' WHERE [op_id] = @op_id",
    params: [{ name: 'op_id', type: 'nvarchar(64)', value: opId }],
  };
}

/** Journals an op that can never apply (`failed`), unless the op id is already journaled. */
export function recordFailureStatement(op: WriteOp, epoch: number, reason: string): MssqlStatement {
  return {
    text: [
      'INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [error], [accepted_at])',
      "SELECT @op_id, @region, @entity, @entity_key, @action, @payload, @seq, @epoch, N'failed', @error, @accepted_at",
      'WHERE NOT EXISTS (SELECT 1 FROM [op_journal] WITH (UPDLOCK, HOLDLOCK) WHERE [op_id] = @op_id)',
    ].join('\n'),
    params: [...JOURNAL_PARAMS(op, epoch), { name: 'error', type: 'nvarchar(max)', value: reason }],
  };
}

/** Insert-or-replace of a whole row (create), returning the row (`OUTPUT inserted.…`). */
export function upsertStatement(def: EntityDef, values: DbValues): MssqlStatement {
  const cols = def.columns.map((c) => quoteIdent(c.column));
  const set = def.columns.filter((c) => c.column !== 'id').map((c) => `t.${quoteIdent(c.column)} = s.${quoteIdent(c.column)}`);
  return {
    text: [
      `MERGE ${quoteIdent(def.table)} WITH (HOLDLOCK) AS t`,
      `USING (SELECT ${def.columns.map((c) => `@${c.column} AS ${quoteIdent(c.column)}`).join(', ')}) AS s`,
      'ON t.[id] = s.[id]',
      `WHEN MATCHED THEN UPDATE SET ${set.join(', ')}`,
      `WHEN NOT MATCHED THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})`,
      `OUTPUT ${selectList(def, 'inserted.')};`,
    ].join('\n'),
    params: def.columns.map((c) => param(c, values[c.column])),
  };
}

/** Update of the given mutable columns of one row by id, returning the row (none when it is not there). */
export function updateStatement(def: EntityDef, id: string, values: DbValues): MssqlStatement {
  const cols = def.columns.filter((c) => c.mutable && Object.hasOwn(values, c.column));
  const idParam = param(column(def, 'id'), id);
  if (cols.length === 0) return getByIdStatement(def, id);
  return {
    text: `UPDATE ${quoteIdent(def.table)} SET ${cols.map((c) => `${quoteIdent(c.column)} = @${c.column}`).join(', ')} OUTPUT ${selectList(def, 'inserted.')} WHERE [id] = @id`,
    params: [idParam, ...cols.map((c) => param(c, values[c.column]))],
  };
}

/** Delete of one row by id. */
export function deleteStatement(def: EntityDef, id: string): MssqlStatement {
  return { text: `DELETE FROM ${quoteIdent(def.table)} WHERE [id] = @id`, params: [param(column(def, 'id'), id)] };
}

/** One row by id. */
export function getByIdStatement(def: EntityDef, id: string): MssqlStatement {
  return { text: `SELECT ${selectList(def)} FROM ${quoteIdent(def.table)} WHERE [id] = @id`, params: [param(column(def, 'id'), id)] };
}

/**
 * A keyset page in id order: optional region and parent filters, rows with id above the cursor,
 * at most `limit` (1..1000) rows.
 * @throws EssError `bad_request` for a parent column the entity lacks or a limit out of range
 */
export function listStatement(def: EntityDef, q: ListQuery): MssqlStatement {
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 1000) throw new EssError('bad_request', `limit must be 1..1000, got ${q.limit}`);
  const where: string[] = [];
  const params: MssqlParam[] = [];
  if (q.region) {
    where.push('[region] = @region');
    params.push(param(column(def, 'region'), q.region));
  }
  if (q.parent) {
    const col = column(def, q.parent.column);
    where.push(`${quoteIdent(col.column)} = @parent`);
    params.push(param(col, q.parent.value, 'parent'));
  }
  if (q.afterId !== undefined) {
    where.push('[id] > @after_id');
    params.push(param(column(def, 'id'), q.afterId, 'after_id'));
  }
  params.push({ name: 'limit', type: 'int', value: q.limit });
  return {
    text: `SELECT ${selectList(def)} FROM ${quoteIdent(def.table)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY [id] OFFSET 0 ROWS FETCH NEXT @limit ROWS ONLY`,
    params,
  };
}

/**
 * The values of a JSON array parameter as a one-column table, in the binary collation of the keys
 * (OPENJSON's `value` would otherwise carry the database collation and conflict with the keys').
 */
function jsonValues(param: string): string {
  return `SELECT [value] COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@${param})`;
}

const JOURNAL_COLUMNS = '[op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [error], [accepted_at], [applied_at]';

/** Journal rows for a set of op ids, passed as one JSON array (no 2,100-parameter limit). */
export function journalEntriesStatement(opIds: readonly string[]): MssqlStatement {
  return {
    text: `SELECT ${JOURNAL_COLUMNS} FROM [op_journal] WHERE [op_id] IN (${jsonValues('op_ids')})`,
    params: [{ name: 'op_ids', type: 'nvarchar(max)', value: JSON.stringify(opIds) }],
  };
}

/** Number of journal rows (of a region). Returns one row `n`. */
export function journalCountStatement(region?: Region): MssqlStatement {
  return region
    ? { text: 'SELECT COUNT(*) AS [n] FROM [op_journal] WHERE [region] = @region', params: [{ name: 'region', type: 'nvarchar(8)', value: region }] }
    : { text: 'SELECT COUNT(*) AS [n] FROM [op_journal]', params: [] };
}

/** A column as canonical text for digests (dates `YYYY-MM-DD`, instants ISO in UTC). */
function digestText(col: ColumnDef): string {
  const c = `t.${quoteIdent(col.column)}`;
  switch (col.kind) {
    case 'text':
      return c;
    case 'date':
      return `CONVERT(NVARCHAR(10), ${c}, 23)`;
    case 'bool':
      return `CONVERT(NVARCHAR(1), ${c})`;
    case 'instant':
      return `CONVERT(NVARCHAR(30), SWITCHOFFSET(${c}, '+00:00'), 126)`;
    default:
      return `CONVERT(NVARCHAR(40), ${c})`;
  }
}

/**
 * md5 (lower-case hex) of one row's canonical text: its columns in definition order, NULL as `\N`,
 * separated by U+001F. Equal across SQL Server sites iff the rows are equal.
 */
export function rowDigestExpression(columns: readonly ColumnDef[]): string {
  const parts = columns.map((c) => `ISNULL(${digestText(c)}, N'\\N')`).join(', NCHAR(31), ');
  return `LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', CONCAT(${parts})), 2))`;
}

function digestTable(table: string): readonly ColumnDef[] {
  const cols = Object.hasOwn(DIGEST_TABLES, table) ? DIGEST_TABLES[table] : undefined;
  if (!cols) throw new EssError('bad_request', `unknown table "${table}"`);
  return cols;
}

function regionFilter(region: Region | undefined): { where: string; params: MssqlParam[] } {
  return region
    ? { where: ' WHERE t.[region] = @region', params: [{ name: 'region', type: 'nvarchar(8)', value: region }] }
    : { where: '', params: [] };
}

/**
 * Row count and checksum of a table's rows (of a region): md5 over the rows' md5s in id order;
 * md5 of the empty string when there are none (as on PostgreSQL). Returns one row `count`, `checksum`.
 * @throws EssError `bad_request` for a table that is not in the schema
 */
export function tableDigestStatement(table: string, region?: Region): MssqlStatement {
  const cols = digestTable(table);
  const f = regionFilter(region);
  return {
    text:
      `SELECT COUNT(*) AS [count], LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', ISNULL(STRING_AGG(CAST(d.[digest] AS NVARCHAR(MAX)), N'') WITHIN GROUP (ORDER BY d.[id]), N'')), 2)) AS [checksum]` +
      ` FROM (SELECT t.[id], ${rowDigestExpression(cols)} AS [digest] FROM ${quoteIdent(table)} t${f.where}) d`,
    params: f.params,
  };
}

/** Per-row md5 of a table's rows (of a region). Returns rows `id`, `digest`. */
export function rowDigestsStatement(table: string, region?: Region): MssqlStatement {
  const cols = digestTable(table);
  const f = regionFilter(region);
  return { text: `SELECT t.[id], ${rowDigestExpression(cols)} AS [digest] FROM ${quoteIdent(table)} t${f.where}`, params: f.params };
}

/** Every (id, branch at the root of the row's derivation chain) of an entity of a region. Returns rows `id`, `branch_id`. */
export function placementsStatement(entity: EntityName, region: Region): MssqlStatement {
  const chain: Record<EntityName, string> = {
    branch: 'SELECT [id], [id] AS [branch_id] FROM [branch] WHERE [region] = @region',
    employee: 'SELECT [id], [branch_id] FROM [employee] WHERE [region] = @region',
    customer: 'SELECT [id], [branch_id] FROM [customer] WHERE [region] = @region',
    contract: 'SELECT k.[id], c.[branch_id] FROM [contract] k JOIN [customer] c ON c.[id] = k.[customer_id] WHERE k.[region] = @region',
    meterReading:
      'SELECT m.[id], c.[branch_id] FROM [meter_reading] m JOIN [contract] k ON k.[id] = m.[contract_id] JOIN [customer] c ON c.[id] = k.[customer_id] WHERE m.[region] = @region',
    invoice:
      'SELECT i.[id], c.[branch_id] FROM [invoice] i JOIN [contract] k ON k.[id] = i.[contract_id] JOIN [customer] c ON c.[id] = k.[customer_id] WHERE i.[region] = @region',
    payment:
      'SELECT p.[id], c.[branch_id] FROM [payment] p JOIN [invoice] i ON i.[id] = p.[invoice_id] JOIN [contract] k ON k.[id] = i.[contract_id] JOIN [customer] c ON c.[id] = k.[customer_id] WHERE p.[region] = @region',
    transfer: 'SELECT [id], [to_branch_id] AS [branch_id] FROM [transfer] WHERE [region] = @region',
  };
  if (!Object.hasOwn(chain, entity)) throw new EssError('bad_request', `unknown entity "${entity}"`);
  return { text: chain[entity], params: [{ name: 'region', type: 'nvarchar(8)', value: region }] };
}

/**
 * Meter readings and their kWh sum (text, 3 decimals) per region, for the regions given (as one
 * JSON array). Returns rows `region`, `readings`, `kwh`, in region order.
 */
export function consumptionStatement(regions: readonly Region[]): MssqlStatement {
  return {
    text:
      'SELECT r.[id] AS [region], COUNT(m.[id]) AS [readings], CONVERT(VARCHAR(40), CAST(ISNULL(SUM(m.[kwh]), 0) AS DECIMAL(18,3))) AS [kwh]' +
      ' FROM [region] r LEFT JOIN [meter_reading] m ON m.[region] = r.[id]' +
      ` WHERE r.[id] IN (${jsonValues('regions')}) GROUP BY r.[id] ORDER BY r.[id]`,
    params: [{ name: 'regions', type: 'nvarchar(max)', value: JSON.stringify(regions) }],
  };
}

/**
 * Deletes up to `batch` journal rows applied more than `days` days ago (the store repeats it until
 * fewer than `batch` go, so no single statement holds locks on the whole journal).
 */
export function purgeJournalStatement(days: number, batch: number): MssqlStatement {
  return {
    text: 'DELETE TOP (@batch) FROM [op_journal] WHERE [applied_at] < DATEADD(DAY, -@days, SYSDATETIMEOFFSET())',
    params: [
      { name: 'batch', type: 'int', value: batch },
      { name: 'days', type: 'int', value: days },
    ],
  };
}

