import { parse } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import type { OpLogLine } from '../../src/logging/op-log-line.js';
import { literal, renderChange, renderScript, RenderError } from '../../src/recovery/sql-render.js';

const line = (over: Partial<OpLogLine> = {}): OpLogLine => ({
  level: 30,
  time: '2026-11-30T15:04:13.630Z',
  msg: 'write.applied',
  v: 1,
  opId: 'TP2-f833bcf7-b9cd-4e48-9dfd-61e9b96702e9',
  region: 'TP2',
  site: 'db2',
  epoch: 1,
  entity: 'contract',
  table: 'contract',
  key: "K-1",
  action: 'create',
  seq: 3,
  outcome: 'applied',
  row: { id: "K-1", customer_id: 'C1', signed_on: '2024-01-31', meter_serial: "M'); DROP TABLE branch; --", kwh_quota: '150.500', unit_price: 1984, is_paid: false, region: 'TP2' },
  values: { meter_serial: 'x' },
  acceptedAt: '2026-11-30T15:04:13.520Z',
  ...over,
});

async function pgStatementKinds(sql: string): Promise<string[]> {
  const tree = await parse(sql);
  return (tree.stmts ?? []).map((s) => Object.keys(s.stmt ?? {})[0]!);
}

describe('literals', () => {
  it('PostgreSQL: quotes doubled, E-string for backslashes, typed casts', () => {
    expect(literal("O'Brien", 'text', 'postgres')).toBe("'O''Brien'");
    expect(literal('a\\b\'c', 'text', 'postgres')).toBe("E'a\\\\b''c'");
    expect(literal('150.500', 'kwh', 'postgres')).toBe("'150.500'::numeric");
    expect(literal('2024-01-31', 'date', 'postgres')).toBe("'2024-01-31'::date");
    expect(literal(true, 'bool', 'postgres')).toBe('TRUE');
    expect(literal(null, 'text', 'postgres')).toBe('NULL');
  });

  it('T-SQL: Unicode N-strings with quotes doubled, backslashes as they are, CASTs', () => {
    expect(literal("Chi nhánh O'Hara", 'text', 'mssql')).toBe("N'Chi nhánh O''Hara'");
    expect(literal('a\\b', 'text', 'mssql')).toBe("N'a\\b'");
    expect(literal('150.500', 'kwh', 'mssql')).toBe("CAST(N'150.500' AS decimal(12,3))");
    expect(literal(false, 'bool', 'mssql')).toBe('CAST(0 AS bit)');
    expect(literal('2025-01-01T00:00:00.000Z', 'instant', 'mssql')).toBe("CAST(N'2025-01-01T00:00:00.000Z' AS datetimeoffset)");
  });

  it('refuses values that do not fit their kind, and NUL characters', () => {
    expect(() => literal('12', 'int', 'postgres')).toThrow(RenderError);
    expect(() => literal(1.5, 'vnd', 'postgres')).toThrow(RenderError);
    expect(() => literal('a\u0000b', 'text', 'mssql')).toThrow(/NUL/);
    expect(() => literal('1e9', 'kwh', 'postgres')).toThrow(RenderError);
  });
});

describe('rendered PostgreSQL parses with the real PostgreSQL parser as exactly one statement', () => {
  it('a journaled create: one INSERT whose hostile text stays a literal', async () => {
    const sql = renderChange({ kind: 'op', line: line() }, 'postgres');
    expect(await pgStatementKinds(sql)).toEqual(['InsertStmt']);
    expect(sql).toContain(`'M''); DROP TABLE branch; --'`);
    expect(sql).toContain('ON CONFLICT (op_id) DO NOTHING');
    expect(sql).toContain('WHERE entity_version.seq < EXCLUDED.seq');
  });

  it('a journaled delete is one DELETE gated by the journal and the sequence', async () => {
    const sql = renderChange({ kind: 'op', line: line({ action: 'delete', row: null, values: {} }) }, 'postgres');
    expect(await pgStatementKinds(sql)).toEqual(['DeleteStmt']);
    expect(sql).toMatch(/DELETE FROM contract WHERE id = 'K-1' AND EXISTS \(SELECT 1 FROM v\)$/);
  });

  it('a superseded line only journals the op', async () => {
    const sql = renderChange({ kind: 'op', line: line({ outcome: 'superseded', row: null }) }, 'postgres');
    expect(await pgStatementKinds(sql)).toEqual(['InsertStmt']);
    expect(sql).toMatch(/^INSERT INTO op_journal .*'superseded'/);
    expect(sql).not.toContain('contract (');
  });

  it('plain items: upsert, update by key, delete by key', async () => {
    const ins = renderChange({ kind: 'item', item: { table: 'branch', action: 'insert', key: 'CN9', values: { id: 'CN9', name: 'chi Nhanh 9', region: 'TP2' } } }, 'postgres');
    expect(ins).toBe(
      "INSERT INTO branch AS t (id, name, region) VALUES ('CN9', 'chi Nhanh 9', 'TP2') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region WHERE (t.name, t.region) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.region)",
    );
    const upd = renderChange({ kind: 'item', item: { table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true } } }, 'postgres');
    expect(upd).toBe("UPDATE contract SET is_paid = TRUE WHERE id = 'HD001' AND (is_paid) IS DISTINCT FROM (TRUE)");
    const del = renderChange({ kind: 'item', item: { table: 'customer', action: 'delete', key: 'KH1', values: {} } }, 'postgres');
    expect(del).toBe("DELETE FROM customer WHERE id = 'KH1'");
    for (const s of [ins, upd, del]) expect(await pgStatementKinds(s)).toHaveLength(1);
  });

  it('the whole script is BEGIN, the statements in order, COMMIT', async () => {
    const stmts = [
      { comment: 'one', sql: renderChange({ kind: 'op', line: line() }, 'postgres') },
      { comment: "two\n'; DROP", sql: renderChange({ kind: 'item', item: { table: 'branch', action: 'delete', key: 'CN9', values: {} } }, 'postgres') },
    ];
    const script = renderScript(stmts, 'postgres', { site: 'db2', since: '2025-11-17T17:00:00.000Z', generatedAt: 'now' });
    expect(await pgStatementKinds(script)).toEqual(['TransactionStmt', 'InsertStmt', 'DeleteStmt', 'TransactionStmt']);
  });

  it('refuses unknown tables, unknown columns, updates of fixed columns and keys that are not one id', () => {
    const r = (item: any) => () => renderChange({ kind: 'item', item }, 'postgres');
    expect(r({ table: 'hocphi', action: 'update', key: 'X', values: { a: 1 } })).toThrow(/not in the schema/);
    expect(r({ table: 'branch', action: 'update', key: 'X', values: { colour: 'red' } })).toThrow(/column "colour"/);
    expect(r({ table: 'customer', action: 'update', key: 'X', values: { branch_id: 'B2' } })).toThrow(/never change/);
    expect(r({ table: 'branch', action: 'delete', key: '%', values: {} })).toThrow(/not one row's id/);
    expect(r({ table: 'branch', action: 'insert', key: 'B', values: { name: 'x' } })).toThrow(/lacks required column\(s\) region/);
  });
});

describe('rendered T-SQL', () => {
  it('a journaled create: journal check, sequence gate, MERGE with N-strings', () => {
    const sql = renderChange({ kind: 'op', line: line() }, 'mssql');
    expect(sql).toContain("IF NOT EXISTS (SELECT 1 FROM [op_journal] WHERE [op_id] = N'TP2-f833bcf7-b9cd-4e48-9dfd-61e9b96702e9')");
    expect(sql).toContain("[seq] >= 3");
    expect(sql).toContain("MERGE [contract] WITH (HOLDLOCK) AS t USING (SELECT N'K-1' AS [id]");
    expect(sql).toContain("N'M''); DROP TABLE branch; --' AS [meter_serial]");
    expect(sql).toContain("CAST(N'150.500' AS decimal(12,3)) AS [kwh_quota]");
    expect(sql).not.toMatch(/[^N]'K-1/);
  });

  it('plain items and the script frame', () => {
    const upd = renderChange({ kind: 'item', item: { table: 'contract', action: 'update', key: 'HD001', values: { is_paid: true } } }, 'mssql');
    expect(upd).toBe("UPDATE [contract] SET [is_paid] = CAST(1 AS bit) WHERE [id] = N'HD001' AND EXISTS (SELECT CAST(1 AS bit) EXCEPT SELECT [is_paid])");
    const script = renderScript([{ comment: 'c', sql: upd }], 'mssql', { site: 'db1', since: 's', generatedAt: 'g' });
    expect(script).toContain('SET XACT_ABORT ON;\nBEGIN TRANSACTION;');
    expect(script.trimEnd().endsWith('COMMIT TRANSACTION;')).toBe(true);
  });
});
