/**
 * Every T-SQL statement the SQL Server site store can produce, compared with its exact expected
 * text and parameters (no SQL Server runs here; node-sql-parser cannot read T-SQL). Plus checks over
 * all of them: no PostgreSQL-only syntax, every `@name` bound, every parameter used.
 */
import { describe, expect, it } from 'vitest';
import { ENTITIES, ENTITY_ORDER, type EntityName } from '../../src/domain/entities.js';
import { REGIONS } from '../../src/domain/fragmentation.js';
import type { WriteOp } from '../../src/domain/write-op.js';
import {
  consumptionStatement,
  deleteStatement,
  getByIdStatement,
  journalCountStatement,
  journalEntriesStatement,
  journalGateStatement,
  listStatement,
  markSupersededStatement,
  placementsStatement,
  purgeJournalStatement,
  recordFailureStatement,
  rowDigestsStatement,
  tableDigestStatement,
  updateStatement,
  upsertStatement,
  DIGEST_TABLES,
  type MssqlStatement,
} from '../../src/db/mssql/statements.js';

const OP: WriteOp = {
  opId: 'TP2-f833bcf7-b9cd-4e48-9dfd-61e9b96702e9',
  region: 'TP2',
  entity: 'branch',
  key: 'CN9',
  action: 'create',
  seq: 1,
  branchId: 'CN9',
  values: { id: 'CN9', name: 'Chi nhánh 9', region: 'TP2' },
  acceptedAt: '2026-11-30T15:04:13.520Z',
};

/** Every statement the store can produce, by a readable name. */
function allStatements(): Record<string, MssqlStatement> {
  const out: Record<string, MssqlStatement> = {
    journalGate: journalGateStatement(OP, 3),
    journalGateDelete: journalGateStatement({ ...OP, action: 'delete', values: {} }, 3),
    markSuperseded: markSupersededStatement(OP.opId),
    recordFailure: recordFailureStatement(OP, 3, 'parent_missing'),
    journalEntries: journalEntriesStatement([OP.opId]),
    journalCount: journalCountStatement(),
    journalCountRegion: journalCountStatement('TP1'),
    consumption: consumptionStatement(['TP1', 'TP3']),
    purge: purgeJournalStatement(7, 5000),
  };
  for (const name of ENTITY_ORDER) {
    const def = ENTITIES[name];
    const values = Object.fromEntries(def.columns.map((c) => [c.column, null]));
    out[`${name}.create`] = upsertStatement(def, values);
    out[`${name}.update`] = updateStatement(def, 'X1', Object.fromEntries(def.columns.filter((c) => c.mutable).map((c) => [c.column, null])));
    out[`${name}.delete`] = deleteStatement(def, 'X1');
    out[`${name}.getById`] = getByIdStatement(def, 'X1');
    out[`${name}.list`] = listStatement(def, { region: 'TP1', afterId: 'X0', limit: 50, ...(def.parent ? { parent: { column: def.parent.column, value: 'P1' } } : {}) });
    out[`${name}.placements`] = placementsStatement(name, 'TP1');
  }
  for (const table of Object.keys(DIGEST_TABLES)) {
    out[`${table}.tableDigest`] = tableDigestStatement(table, table === 'region' ? undefined : 'TP2');
    out[`${table}.rowDigests`] = rowDigestsStatement(table, table === 'region' ? undefined : 'TP2');
  }
  return out;
}

describe('T-SQL statements of the SQL Server site store', () => {
  it('the journal gate inserts the journal row only when new, then raises entity_version under HOLDLOCK', () => {
    expect(journalGateStatement(OP, 3)).toEqual({
      text: `DECLARE @fresh BIT = 0, @newest BIT = 0;
INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [accepted_at])
SELECT @op_id, @region, @entity, @entity_key, @action, @payload, @seq, @epoch, N'applied', @accepted_at
WHERE NOT EXISTS (SELECT 1 FROM [op_journal] WITH (UPDLOCK, HOLDLOCK) WHERE [op_id] = @op_id);
IF @@ROWCOUNT = 1
BEGIN
  SET @fresh = 1;
  MERGE [entity_version] WITH (HOLDLOCK) AS t
  USING (SELECT @entity AS [entity], @entity_key AS [entity_key]) AS s
  ON t.[entity] = s.[entity] AND t.[entity_key] = s.[entity_key]
  WHEN MATCHED AND t.[seq] < @seq THEN UPDATE SET t.[seq] = @seq, t.[deleted] = @deleted
  WHEN NOT MATCHED THEN INSERT ([entity], [entity_key], [region], [seq], [deleted]) VALUES (@entity, @entity_key, @region, @seq, @deleted);
  IF @@ROWCOUNT = 1 SET @newest = 1;
END;
SELECT @fresh AS [fresh], @newest AS [newest];`,
      params: [
        { name: 'op_id', type: 'nvarchar(64)', value: OP.opId },
        { name: 'region', type: 'nvarchar(8)', value: 'TP2' },
        { name: 'entity', type: 'nvarchar(40)', value: 'branch' },
        { name: 'entity_key', type: 'nvarchar(64)', value: 'CN9' },
        { name: 'action', type: 'nvarchar(10)', value: 'create' },
        { name: 'payload', type: 'nvarchar(max)', value: JSON.stringify(OP) },
        { name: 'seq', type: 'bigint', value: 1 },
        { name: 'epoch', type: 'bigint', value: 3 },
        { name: 'accepted_at', type: 'datetimeoffset(3)', value: '2026-11-30T15:04:13.520Z' },
        { name: 'deleted', type: 'bit', value: false },
      ],
    });
    expect(journalGateStatement({ ...OP, action: 'delete' }, 3).params.at(-1)).toEqual({ name: 'deleted', type: 'bit', value: true });
  });

  it('superseded, failure and journal reads', () => {
    expect(markSupersededStatement(OP.opId)).toEqual({
      text: "UPDATE [op_journal] SET [outcome] = N'superseded' WHERE [op_id] = @op_id",
      params: [{ name: 'op_id', type: 'nvarchar(64)', value: OP.opId }],
    });
    const failure = recordFailureStatement(OP, 3, 'parent_missing');
    expect(failure.text).toBe(`INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [error], [accepted_at])
SELECT @op_id, @region, @entity, @entity_key, @action, @payload, @seq, @epoch, N'failed', @error, @accepted_at
WHERE NOT EXISTS (SELECT 1 FROM [op_journal] WITH (UPDLOCK, HOLDLOCK) WHERE [op_id] = @op_id)`);
    expect(failure.params.map((p) => `${p.name}:${p.type}`)).toEqual([
      'op_id:nvarchar(64)', 'region:nvarchar(8)', 'entity:nvarchar(40)', 'entity_key:nvarchar(64)', 'action:nvarchar(10)',
      'payload:nvarchar(max)', 'seq:bigint', 'epoch:bigint', 'accepted_at:datetimeoffset(3)', 'error:nvarchar(max)',
    ]);
    expect(journalEntriesStatement(['TP1-a', "TP1-'b"])).toEqual({
      text: 'SELECT [op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [error], [accepted_at], [applied_at] FROM [op_journal] WHERE [op_id] IN (SELECT [value] COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@op_ids))',
      params: [{ name: 'op_ids', type: 'nvarchar(max)', value: `["TP1-a","TP1-'b"]` }],
    });
    expect(journalCountStatement()).toEqual({ text: 'SELECT COUNT(*) AS [n] FROM [op_journal]', params: [] });
    expect(journalCountStatement('TP3')).toEqual({
      text: 'SELECT COUNT(*) AS [n] FROM [op_journal] WHERE [region] = @region',
      params: [{ name: 'region', type: 'nvarchar(8)', value: 'TP3' }],
    });
  });

  it('create is a MERGE … WITH (HOLDLOCK) returning the row through OUTPUT, kWh as exact text', () => {
    expect(upsertStatement(ENTITIES.branch, OP.values)).toEqual({
      text: `MERGE [branch] WITH (HOLDLOCK) AS t
USING (SELECT @id AS [id], @name AS [name], @region AS [region]) AS s
ON t.[id] = s.[id]
WHEN MATCHED THEN UPDATE SET t.[name] = s.[name], t.[region] = s.[region]
WHEN NOT MATCHED THEN INSERT ([id], [name], [region]) VALUES (s.[id], s.[name], s.[region])
OUTPUT inserted.[id], inserted.[name], inserted.[region];`,
      params: [
        { name: 'id', type: 'nvarchar(64)', value: 'CN9' },
        { name: 'name', type: 'nvarchar(200)', value: 'Chi nhánh 9' },
        { name: 'region', type: 'nvarchar(8)', value: 'TP2' },
      ],
    });
    const reading = upsertStatement(ENTITIES.meterReading, { id: 'M1', contract_id: 'K1', read_on: '2025-12-31', kwh: '12.500', region: 'TP1' });
    expect(reading.text).toBe(`MERGE [meter_reading] WITH (HOLDLOCK) AS t
USING (SELECT @id AS [id], @contract_id AS [contract_id], @read_on AS [read_on], @kwh AS [kwh], @meter_index AS [meter_index], @half_hours AS [half_hours], @region AS [region]) AS s
ON t.[id] = s.[id]
WHEN MATCHED THEN UPDATE SET t.[contract_id] = s.[contract_id], t.[read_on] = s.[read_on], t.[kwh] = s.[kwh], t.[meter_index] = s.[meter_index], t.[half_hours] = s.[half_hours], t.[region] = s.[region]
WHEN NOT MATCHED THEN INSERT ([id], [contract_id], [read_on], [kwh], [meter_index], [half_hours], [region]) VALUES (s.[id], s.[contract_id], s.[read_on], s.[kwh], s.[meter_index], s.[half_hours], s.[region])
OUTPUT inserted.[id], inserted.[contract_id], inserted.[read_on], CONVERT(VARCHAR(20), inserted.[kwh]) AS [kwh], CONVERT(VARCHAR(20), inserted.[meter_index]) AS [meter_index], inserted.[half_hours], inserted.[region];`);
    expect(reading.params).toEqual([
      { name: 'id', type: 'nvarchar(64)', value: 'M1' },
      { name: 'contract_id', type: 'nvarchar(64)', value: 'K1' },
      { name: 'read_on', type: 'date', value: '2025-12-31' },
      { name: 'kwh', type: 'decimal(12,3)', value: '12.500' },
      { name: 'meter_index', type: 'decimal(12,3)', value: null },
      { name: 'half_hours', type: 'int', value: null },
      { name: 'region', type: 'nvarchar(8)', value: 'TP1' },
    ]);
    const contract = upsertStatement(ENTITIES.contract, { id: 'K1', unit_price: 1893, is_paid: false });
    expect(contract.params.map((p) => `${p.name}:${p.type}`)).toEqual([
      'id:nvarchar(64)', 'customer_id:nvarchar(64)', 'signed_on:date', 'meter_serial:nvarchar(64)',
      'kwh_quota:decimal(12,3)', 'unit_price:bigint', 'is_paid:bit', 'region:nvarchar(8)',
    ]);
    expect(upsertStatement(ENTITIES.payment, {}).params.find((p) => p.name === 'paid_at')?.type).toBe('datetimeoffset(3)');
  });

  it('update sets only the mutable columns given, with OUTPUT before WHERE; nothing to set reads the row', () => {
    expect(updateStatement(ENTITIES.customer, 'C1', { name: 'Trần Thị B', phone: null, branch_id: 'ignored' })).toEqual({
      text: 'UPDATE [customer] SET [name] = @name, [phone] = @phone OUTPUT inserted.[id], inserted.[name], inserted.[branch_id], inserted.[address], inserted.[phone], inserted.[region] WHERE [id] = @id',
      params: [
        { name: 'id', type: 'nvarchar(64)', value: 'C1' },
        { name: 'name', type: 'nvarchar(200)', value: 'Trần Thị B' },
        { name: 'phone', type: 'nvarchar(40)', value: null },
      ],
    });
    expect(updateStatement(ENTITIES.invoice, 'I1', { amount: 595, kwh: '0.300' })).toEqual({
      text: 'UPDATE [invoice] SET [kwh] = @kwh, [amount] = @amount OUTPUT inserted.[id], inserted.[contract_id], inserted.[month], inserted.[year], inserted.[employee_id], CONVERT(VARCHAR(20), inserted.[kwh]) AS [kwh], inserted.[amount], inserted.[region] WHERE [id] = @id',
      params: [
        { name: 'id', type: 'nvarchar(64)', value: 'I1' },
        { name: 'kwh', type: 'decimal(12,3)', value: '0.300' },
        { name: 'amount', type: 'bigint', value: 595 },
      ],
    });
    expect(updateStatement(ENTITIES.branch, 'B1', { id: 'B2' })).toEqual({
      text: 'SELECT [id], [name], [region] FROM [branch] WHERE [id] = @id',
      params: [{ name: 'id', type: 'nvarchar(64)', value: 'B1' }],
    });
  });

  it('delete and point read by id', () => {
    expect(deleteStatement(ENTITIES.meterReading, 'M1')).toEqual({ text: 'DELETE FROM [meter_reading] WHERE [id] = @id', params: [{ name: 'id', type: 'nvarchar(64)', value: 'M1' }] });
    expect(getByIdStatement(ENTITIES.contract, 'K1').text).toBe(
      'SELECT [id], [customer_id], [signed_on], [meter_serial], CONVERT(VARCHAR(20), [kwh_quota]) AS [kwh_quota], [unit_price], [is_paid], [region] FROM [contract] WHERE [id] = @id',
    );
  });

  it('list: filters, keyset cursor and OFFSET/FETCH (never LIMIT)', () => {
    expect(listStatement(ENTITIES.employee, { region: 'TP1', parent: { column: 'branch_id', value: 'B1' }, afterId: 'E9', limit: 50 })).toEqual({
      text: 'SELECT [id], [full_name], [branch_id], [email], [role], [region] FROM [employee] WHERE [region] = @region AND [branch_id] = @parent AND [id] > @after_id ORDER BY [id] OFFSET 0 ROWS FETCH NEXT @limit ROWS ONLY',
      params: [
        { name: 'region', type: 'nvarchar(8)', value: 'TP1' },
        { name: 'parent', type: 'nvarchar(64)', value: 'B1' },
        { name: 'after_id', type: 'nvarchar(64)', value: 'E9' },
        { name: 'limit', type: 'int', value: 50 },
      ],
    });
    expect(listStatement(ENTITIES.branch, { limit: 1 })).toEqual({
      text: 'SELECT [id], [name], [region] FROM [branch] ORDER BY [id] OFFSET 0 ROWS FETCH NEXT @limit ROWS ONLY',
      params: [{ name: 'limit', type: 'int', value: 1 }],
    });
    expect(() => listStatement(ENTITIES.branch, { parent: { column: 'x; DROP TABLE branch', value: '' }, limit: 1 })).toThrow(/has no column/);
    expect(() => listStatement(ENTITIES.branch, { limit: 1001 })).toThrow(/limit must be 1..1000/);
  });

  it('digests: md5 per row over canonical text, and over the rows in id order', () => {
    expect(rowDigestsStatement('payment', 'TP2')).toEqual({
      text:
        "SELECT t.[id], LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', CONCAT(ISNULL(t.[id], N'\\N'), NCHAR(31), ISNULL(t.[invoice_id], N'\\N'), NCHAR(31), " +
        "ISNULL(CONVERT(NVARCHAR(30), SWITCHOFFSET(t.[paid_at], '+00:00'), 126), N'\\N'), NCHAR(31), ISNULL(CONVERT(NVARCHAR(40), t.[amount]), N'\\N'), NCHAR(31), " +
        "ISNULL(t.[region], N'\\N'))), 2)) AS [digest] FROM [payment] t WHERE t.[region] = @region",
      params: [{ name: 'region', type: 'nvarchar(8)', value: 'TP2' }],
    });
    expect(tableDigestStatement('region')).toEqual({
      text:
        "SELECT COUNT(*) AS [count], LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', ISNULL(STRING_AGG(CAST(d.[digest] AS NVARCHAR(MAX)), N'') WITHIN GROUP (ORDER BY d.[id]), N'')), 2)) AS [checksum] " +
        "FROM (SELECT t.[id], LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', CONCAT(ISNULL(t.[id], N'\\N'), NCHAR(31), ISNULL(t.[name], N'\\N'))), 2)) AS [digest] FROM [region] t) d",
      params: [],
    });
    expect(rowDigestsStatement('contract').text).toContain(
      "ISNULL(CONVERT(NVARCHAR(10), t.[signed_on], 23), N'\\N'), NCHAR(31), ISNULL(t.[meter_serial], N'\\N'), NCHAR(31), ISNULL(CONVERT(NVARCHAR(40), t.[kwh_quota]), N'\\N'), NCHAR(31), ISNULL(CONVERT(NVARCHAR(40), t.[unit_price]), N'\\N'), NCHAR(31), ISNULL(CONVERT(NVARCHAR(1), t.[is_paid]), N'\\N')",
    );
    expect(() => tableDigestStatement('sys.objects')).toThrow(/unknown table/);
  });

  it('placements along the derivation chain, consumption, purge in TOP batches', () => {
    expect(placementsStatement('payment', 'TP1')).toEqual({
      text: 'SELECT p.[id], c.[branch_id] FROM [payment] p JOIN [invoice] i ON i.[id] = p.[invoice_id] JOIN [contract] k ON k.[id] = i.[contract_id] JOIN [customer] c ON c.[id] = k.[customer_id] WHERE p.[region] = @region',
      params: [{ name: 'region', type: 'nvarchar(8)', value: 'TP1' }],
    });
    expect(placementsStatement('branch', 'TP2').text).toBe('SELECT [id], [id] AS [branch_id] FROM [branch] WHERE [region] = @region');
    expect(placementsStatement('transfer', 'TP2').text).toBe('SELECT [id], [to_branch_id] AS [branch_id] FROM [transfer] WHERE [region] = @region');
    expect(consumptionStatement(['TP1', 'TP3'])).toEqual({
      text:
        'SELECT r.[id] AS [region], COUNT(m.[id]) AS [readings], CONVERT(VARCHAR(40), CAST(ISNULL(SUM(m.[kwh]), 0) AS DECIMAL(18,3))) AS [kwh] FROM [region] r LEFT JOIN [meter_reading] m ON m.[region] = r.[id] WHERE r.[id] IN (SELECT [value] COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@regions)) GROUP BY r.[id] ORDER BY r.[id]',
      params: [{ name: 'regions', type: 'nvarchar(max)', value: '["TP1","TP3"]' }],
    });
    expect(purgeJournalStatement(7, 5000)).toEqual({
      text: 'DELETE TOP (@batch) FROM [op_journal] WHERE [applied_at] < DATEADD(DAY, -@days, SYSDATETIMEOFFSET())',
      params: [
        { name: 'batch', type: 'int', value: 5000 },
        { name: 'days', type: 'int', value: 7 },
      ],
    });
  });

  it('every statement (all entities, all tables): T-SQL only, every @name bound, every parameter used', () => {
    const all = allStatements();
    expect(Object.keys(all)).toHaveLength(9 + ENTITY_ORDER.length * 6 + Object.keys(DIGEST_TABLES).length * 2);
    for (const [name, stmt] of Object.entries(all)) {
      const text = stmt.text.replace(/N?'(?:[^']|'')*'/g, "''");
      expect(text, name).not.toMatch(/\$\d|::|(?<!@)\bLIMIT\b|ON CONFLICT|RETURNING|\bILIKE\b|\bnow\(\)|"[a-z_]+"/i);
      const declared = new Set([...text.matchAll(/DECLARE\s+((?:@\w+[^;]*?,?\s*)+);/gi)].flatMap((m) => [...m[1]!.matchAll(/@(\w+)/g)].map((x) => x[1]!)));
      const used = new Set([...text.matchAll(/(?<![@\w])@(\w+)/g)].map((m) => m[1]!).filter((n) => !declared.has(n)));
      const bound = new Set(stmt.params.map((p) => p.name));
      expect([...used].sort(), name).toEqual([...bound].sort());
      expect(stmt.params.length, name).toBe(bound.size);
      if (/\bMERGE\b/.test(text)) {
        expect(text, name).toMatch(/MERGE \[\w+\] WITH \(HOLDLOCK\)/);
        expect(text.trimEnd().endsWith(';') || /;\s*IF @@ROWCOUNT/.test(text), `${name}: a MERGE must end with ;`).toBe(true);
      }
    }
  });

  it('per entity: create, update and delete texts name exactly the entity columns', () => {
    for (const name of ENTITY_ORDER as EntityName[]) {
      const def = ENTITIES[name];
      const create = upsertStatement(def, {});
      expect(create.params.map((p) => p.name)).toEqual(def.columns.map((c) => c.column));
      const upd = updateStatement(def, 'X', Object.fromEntries(def.columns.map((c) => [c.column, null])));
      expect(upd.params.map((p) => p.name)).toEqual(['id', ...def.columns.filter((c) => c.mutable).map((c) => c.column)]);
      expect(upd.text.startsWith(`UPDATE [${def.table}] SET `)).toBe(true);
      expect(deleteStatement(def, 'X').text).toBe(`DELETE FROM [${def.table}] WHERE [id] = @id`);
      expect(REGIONS.map((r) => placementsStatement(name, r).params[0]!.value)).toEqual(['TP1', 'TP2', 'TP3']);
    }
  });
});
