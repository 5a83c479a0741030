/**
 * T-SQL literals for scripts (recovery's dialect), the T-SQL schema against the entity definitions
 * and the PostgreSQL schema, and the migrator's batch splitting.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/config.js';
import { ENTITIES, type ColumnKind } from '../../src/domain/entities.js';
import { splitBatches } from '../../src/db/mssql/migrate.js';
import { deleteStatement, upsertStatement, updateStatement } from '../../src/db/mssql/statements.js';
import { inlineStatement, tsqlLiteral } from '../../src/db/mssql/tsql-literal.js';

const MSSQL_SCHEMA = readFileSync(path.join(PROJECT_ROOT, 'sql/mssql/001_schema.sql'), 'utf8');
const PG_SCHEMA = readFileSync(path.join(PROJECT_ROOT, 'sql/postgres/001_schema.sql'), 'utf8');

describe('T-SQL literals', () => {
  it('writes Unicode strings as N\'…\' with quotes doubled, and validates every other type', () => {
    expect(tsqlLiteral('nvarchar(200)', 'Chi nhánh Hà Nội')).toBe("N'Chi nhánh Hà Nội'");
    expect(tsqlLiteral('nvarchar(200)', "O'Brien'; DROP TABLE branch; --")).toBe("N'O''Brien''; DROP TABLE branch; --'");
    expect(tsqlLiteral('nvarchar(max)', '')).toBe("N''");
    expect(tsqlLiteral('nvarchar(64)', null)).toBe('NULL');
    expect(tsqlLiteral('decimal(12,3)', '123.450')).toBe('123.450');
    expect(tsqlLiteral('bigint', 9_007_199_254_740)).toBe('9007199254740');
    expect(tsqlLiteral('int', '48')).toBe('48');
    expect(tsqlLiteral('bit', false)).toBe('0');
    expect(tsqlLiteral('date', '2025-05-10')).toBe("CAST('2025-05-10' AS DATE)");
    expect(tsqlLiteral('datetimeoffset(3)', '2026-01-05T10:15:30.123+07:00')).toBe("CAST('2026-01-05T03:15:30.123+00:00' AS DATETIMEOFFSET(3))");
    for (const [type, value] of [
      ['decimal(12,3)', "1'); DROP TABLE x; --"],
      ['decimal(12,3)', '1.2345'],
      ['bigint', 1.5],
      ['bigint', '1e3'],
      ['int', "1 OR 1=1"],
      ['date', "2025-05-10'; --"],
      ['date', '10/05/2025'],
      ['datetimeoffset(3)', 'yesterday'],
      ['bit', 'true'],
    ] as const) {
      expect(() => tsqlLiteral(type, value), `${type} ${value}`).toThrow(/is not/);
    }
  });

  it('a recovery script statement: the store\'s own statement with the values written in', () => {
    expect(inlineStatement(upsertStatement(ENTITIES.branch, { id: 'CN9', name: "Chi nhánh 9 'mới'", region: 'TP2' }))).toBe(`MERGE [branch] WITH (HOLDLOCK) AS t
USING (SELECT N'CN9' AS [id], N'Chi nhánh 9 ''mới''' AS [name], N'TP2' AS [region]) AS s
ON t.[id] = s.[id]
WHEN MATCHED THEN UPDATE SET t.[name] = s.[name], t.[region] = s.[region]
WHEN NOT MATCHED THEN INSERT ([id], [name], [region]) VALUES (s.[id], s.[name], s.[region])
OUTPUT inserted.[id], inserted.[name], inserted.[region];`);
    expect(inlineStatement(updateStatement(ENTITIES.meterReading, 'M1', { kwh: '12.500', read_on: '2025-12-31', half_hours: 48 }))).toBe(
      "UPDATE [meter_reading] SET [read_on] = CAST('2025-12-31' AS DATE), [kwh] = 12.500, [half_hours] = 48 OUTPUT inserted.[id], inserted.[contract_id], inserted.[read_on], CONVERT(VARCHAR(20), inserted.[kwh]) AS [kwh], CONVERT(VARCHAR(20), inserted.[meter_index]) AS [meter_index], inserted.[half_hours], inserted.[region] WHERE [id] = N'M1'",
    );
    expect(inlineStatement(deleteStatement(ENTITIES.customer, "C'1"))).toBe("DELETE FROM [customer] WHERE [id] = N'C''1'");
    // '@' inside a literal value is never taken for a parameter.
    expect(inlineStatement({ text: "SELECT @a AS [x], N'@a' AS [y], @@ROWCOUNT AS [z]", params: [{ name: 'a', type: 'nvarchar(10)', value: 'mail@x' }] })).toBe(
      "SELECT N'mail@x' AS [x], N'@a' AS [y], @@ROWCOUNT AS [z]",
    );
  });
});

/** `CREATE TABLE dbo.x ( … );` bodies of the T-SQL schema, by table. */
function mssqlTables(): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const m of MSSQL_SCHEMA.matchAll(/CREATE TABLE dbo\.(\w+) \(\n([\s\S]*?)\n\);/g)) {
    const cols = new Map<string, string>();
    for (const line of m[2]!.split('\n')) {
      const c = /^\s+([a-z_]+)\s+(.+?),?\s*(--.*)?$/.exec(line);
      if (c && c[1] !== 'constraint') cols.set(c[1]!, c[2]!);
    }
    out.set(m[1]!, cols);
  }
  return out;
}

describe('T-SQL schema (sql/mssql/001_schema.sql)', () => {
  const tables = mssqlTables();

  it('has every table and column of the PostgreSQL schema', () => {
    const pgTables = [...PG_SCHEMA.matchAll(/CREATE TABLE (\w+) \(\n([\s\S]*?)\n\);/g)];
    expect([...tables.keys()].sort()).toEqual(pgTables.map((m) => m[1]!).sort());
    for (const [, table, body] of pgTables) {
      const pgCols = body!.split('\n').map((l) => /^\s+([a-z_]+)\s/.exec(l)?.[1]).filter((c): c is string => !!c && c !== 'primary');
      expect([...tables.get(table!)!.keys()].filter((c) => c !== 'constraint'), table).toEqual(pgCols);
    }
  });

  it('maps each column kind on purpose: NVARCHAR(n) text, DATE, DECIMAL(12,3) kWh, BIGINT VND, BIT, DATETIMEOFFSET(3)', () => {
    const expected: Record<Exclude<ColumnKind, 'text'>, RegExp> = {
      date: /^DATE NOT NULL|^DATE NULL/,
      kwh: /^DECIMAL\(12,3\) (NOT )?NULL/,
      vnd: /^BIGINT (NOT )?NULL/,
      int: /^SMALLINT (NOT )?NULL/,
      bool: /^BIT (NOT )?NULL/,
      instant: /^DATETIMEOFFSET\(3\) (NOT )?NULL/,
    };
    for (const def of Object.values(ENTITIES)) {
      const cols = tables.get(def.table)!;
      for (const col of def.columns) {
        const sqlType = cols.get(col.column)!;
        if (col.kind === 'text') {
          expect(sqlType, `${def.table}.${col.column}`).toMatch(new RegExp(`^NVARCHAR\\(${col.maxLength}\\) `));
          expect(sqlType, `${def.table}.${col.column}`).toMatch(col.required ? /NOT NULL/ : /(?<!NOT )NULL/);
        } else {
          expect(sqlType, `${def.table}.${col.column}`).toMatch(expected[col.kind]);
        }
        // Keys and references compare in binary order, as PostgreSQL's COLLATE "C".
        if (col.column === 'id' || col.column.endsWith('_id') || col.column === 'region') expect(sqlType).toContain('COLLATE Latin1_General_100_BIN2');
      }
    }
    expect(MSSQL_SCHEMA.replace(/--[^\n]*/g, '')).not.toMatch(/\b(TEXT|JSONB|TIMESTAMPTZ|BOOLEAN|SERIAL)\b|now\(\)|::/);
  });

  it('has the op journal and entity_version with the PostgreSQL checks', () => {
    expect(tables.get('op_journal')!.get('payload')).toContain('CHECK (ISJSON(payload) = 1)');
    expect(tables.get('op_journal')!.get('outcome')).toContain("CHECK (outcome IN (N'applied', N'superseded', N'failed'))");
    expect(tables.get('op_journal')!.get('applied_at')).toContain('DEFAULT SYSDATETIMEOFFSET()');
    expect(tables.get('entity_version')!.get('seq')).toBe('BIGINT NOT NULL');
    expect(MSSQL_SCHEMA).toContain('CONSTRAINT entity_version_pkey PRIMARY KEY (entity, entity_key)');
    expect(MSSQL_SCHEMA).toContain("(N'TP1', N'Miền Bắc (North)'), (N'TP2', N'Miền Trung (Centre)'), (N'TP3', N'Miền Nam (South)')");
  });

  it('creates every object only when missing (idempotent), in GO-separated batches', () => {
    const batches = splitBatches(MSSQL_SCHEMA);
    const creates = [...MSSQL_SCHEMA.matchAll(/^\s*CREATE (TABLE|INDEX) /gm)];
    const guarded = [...MSSQL_SCHEMA.matchAll(/^IF (OBJECT_ID\(N'dbo\.\w+', N'U'\) IS NULL|NOT EXISTS \(SELECT 1 FROM sys\.indexes WHERE name = N'\w+' AND object_id = OBJECT_ID\(N'dbo\.\w+'\)\))\n\s*CREATE /gm)];
    expect(guarded.length).toBe(creates.length);
    expect(creates.length).toBe(11 + 16); // 11 tables, 16 indexes
    expect(batches.length).toBe(MSSQL_SCHEMA.match(/^GO$/gm)!.length); // 21: the file ends with GO
    expect(batches.every((b) => !/^\s*GO\s*$/im.test(b))).toBe(true);
    expect(MSSQL_SCHEMA).toMatch(/MERGE dbo\.region WITH \(HOLDLOCK\) AS t[\s\S]*WHEN NOT MATCHED THEN INSERT/);
  });

  it('splitBatches: GO alone on a line (any case, trailing comment) separates; GO inside a line does not', () => {
    expect(splitBatches("SELECT 1\nGO\nSELECT N'GO'\n  go  -- end\n\n-- only a comment\nGO\nSELECT 2 AS go_on")).toEqual(["SELECT 1", "SELECT N'GO'", 'SELECT 2 AS go_on']);
  });
});
