import { describe, expect, it } from "vitest";
import { copyJournalEntryStatement, entityVersionsStatement, journalOpIdsStatement, versionGateStatement } from "../../src/db/mssql/resync-statements.js";

// The exact T-SQL (text and typed parameters) of the SQL Server store's resync statements.
describe("mssql resync statements", () => {
  it("journal op ids of a region", () => {
    expect(journalOpIdsStatement("TP2")).toEqual({"text":"SELECT [op_id] FROM [op_journal] WHERE [region] = @region","params":[{"name":"region","type":"nvarchar(8)","value":"TP2"}]});
  });
  it("entity versions of a set of keys, passed as one JSON array (quotes stay data)", () => {
    expect(entityVersionsStatement("customer", ["KH-1", "O'Hara"])).toEqual({"text":"SELECT [entity_key], [seq], [deleted] FROM [entity_version] WHERE [entity] = @entity AND [entity_key] IN (SELECT [value] COLLATE Latin1_General_100_BIN2 FROM OPENJSON(@keys))","params":[{"name":"entity","type":"nvarchar(40)","value":"customer"},{"name":"keys","type":"nvarchar(max)","value":"[\"KH-1\",\"O'Hara\"]"}]});
  });
  it("the version gate raises only a lower version", () => {
    expect(versionGateStatement({ entity: "customer", key: "KH-1", row: { id: "KH-1" }, seq: 7, deleted: false }, "TP2")).toEqual({"text":"MERGE [entity_version] WITH (HOLDLOCK) AS t\nUSING (SELECT @entity AS [entity], @entity_key AS [entity_key]) AS s\nON t.[entity] = s.[entity] AND t.[entity_key] = s.[entity_key]\nWHEN MATCHED AND t.[seq] < @seq THEN UPDATE SET t.[seq] = @seq, t.[deleted] = @deleted\nWHEN NOT MATCHED THEN INSERT ([entity], [entity_key], [region], [seq], [deleted]) VALUES (@entity, @entity_key, @region, @seq, @deleted);\nSELECT CAST(CASE WHEN @@ROWCOUNT = 1 THEN 1 ELSE 0 END AS BIT) AS [newer];","params":[{"name":"entity","type":"nvarchar(40)","value":"customer"},{"name":"entity_key","type":"nvarchar(64)","value":"KH-1"},{"name":"region","type":"nvarchar(8)","value":"TP2"},{"name":"seq","type":"bigint","value":7},{"name":"deleted","type":"bit","value":false}]});
    expect(versionGateStatement({ entity: "customer", key: "KH-1", row: null, seq: 8, deleted: false }, "TP2").params.find((p) => p.name === "deleted")?.value).toBe(true);
  });
  it("a journal entry copied from another site, unless its op id is there", () => {
    const e = { opId: "TP2-11111111-2222-4333-8444-555555555555", region: "TP2", entity: "customer", key: "KH-1", action: "update", seq: 7, epoch: 2, outcome: "applied", error: null, acceptedAt: "2026-11-30T10:00:00.000Z", appliedAt: "2026-11-30T10:00:01.000Z", payload: { opId: "x" } } as const;
    // Same column types as the schema: action NVARCHAR(10), outcome NVARCHAR(12).
    expect(copyJournalEntryStatement(e as never)).toEqual({"text":"INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [error], [accepted_at])\nSELECT @op_id, @region, @entity, @entity_key, @action, @payload, @seq, @epoch, @outcome, @error, @accepted_at\nWHERE NOT EXISTS (SELECT 1 FROM [op_journal] WITH (UPDLOCK, HOLDLOCK) WHERE [op_id] = @op_id)","params":[{"name":"op_id","type":"nvarchar(64)","value":"TP2-11111111-2222-4333-8444-555555555555"},{"name":"region","type":"nvarchar(8)","value":"TP2"},{"name":"entity","type":"nvarchar(40)","value":"customer"},{"name":"entity_key","type":"nvarchar(64)","value":"KH-1"},{"name":"action","type":"nvarchar(10)","value":"update"},{"name":"payload","type":"nvarchar(max)","value":"{\"opId\":\"x\"}"},{"name":"seq","type":"bigint","value":7},{"name":"epoch","type":"bigint","value":2},{"name":"accepted_at","type":"datetimeoffset(3)","value":"2026-11-30T10:00:00.000Z"},{"name":"outcome","type":"nvarchar(12)","value":"applied"},{"name":"error","type":"nvarchar(max)","value":null}]});
  });
});
