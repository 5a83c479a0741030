/**
 * A recovery run with `--dialect mssql` (the CLI, no site needed without --apply) renders a T-SQL
 * script whose statements are exactly these: Unicode text as N'…', quotes doubled, MERGE with
 * HOLDLOCK, the op journal and the sequence gate for this system's own lines.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/config/config.js";

const run = promisify(execFile);
let dir: string | undefined;
afterAll(async () => dir && rm(dir, { recursive: true, force: true }));

const ORIGINAL = "{\"timestamp\":\"2025-11-27T11:52:07.626Z\",\"level\":\"insert\",\"message\":\"thêm chi nhánh\",\"city\":\"TP2\",\"maCN\":\"CN10\",\"tenCN\":\"Chi nhánh O'Hara Đà Nẵng\",\"thanhpho\":\"TP2\"}";
const OP_LOG = "{\"level\":30,\"time\":\"2025-11-27T12:00:00.000Z\",\"v\":1,\"opId\":\"TP2-11111111-2222-4333-8444-555555555555\",\"region\":\"TP2\",\"site\":\"db2\",\"epoch\":1,\"entity\":\"customer\",\"table\":\"customer\",\"key\":\"KH-1\",\"action\":\"create\",\"seq\":1,\"outcome\":\"applied\",\"row\":{\"id\":\"KH-1\",\"name\":\"Nguyễn Thị 'Lan'\",\"branch_id\":\"CN10\",\"address\":null,\"phone\":null,\"region\":\"TP2\"},\"values\":{\"id\":\"KH-1\",\"name\":\"Nguyễn Thị 'Lan'\",\"branch_id\":\"CN10\",\"address\":null,\"phone\":null,\"region\":\"TP2\"},\"acceptedAt\":\"2025-11-27T11:59:59.000Z\",\"msg\":\"write.applied\"}";

describe("recovery script in T-SQL", () => {
  it("renders the expected statements, in log order, in one transaction", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ess-rec-mssql-"));
    await writeFile(path.join(dir, "TP2-2025-11-27.log"), `${ORIGINAL}\n${OP_LOG}\n`);
    const out = path.join(dir, "out");
    const { stdout } = await run("npx", ["tsx", "src/cli/recover.ts", "TP2", "2025-11-18", "00:00:00", "--log-dir", dir, "--no-ai", "--dialect", "mssql", "--out", out], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, REDIS_URL: "redis://127.0.0.1:1", DB_DRIVER: "postgres" },
    });
    expect(stdout).toContain("2 statement(s); entries: converted 2");
    const script = await readFile(/script: (\S+)/.exec(stdout)![1]!, "utf8");
    const statements = script.split("\n").filter((l) => l !== "" && !l.startsWith("--"));
    expect(statements).toEqual([
      "SET XACT_ABORT ON;",
      "BEGIN TRANSACTION;",
      "MERGE [branch] WITH (HOLDLOCK) AS t USING (SELECT N'CN10' AS [id], N'Chi nhánh O''Hara Đà Nẵng' AS [name], N'TP2' AS [region]) AS s ON t.[id] = s.[id] WHEN MATCHED AND EXISTS (SELECT s.[name], s.[region] EXCEPT SELECT t.[name], t.[region]) THEN UPDATE SET t.[name] = s.[name], t.[region] = s.[region] WHEN NOT MATCHED THEN INSERT ([id], [name], [region]) VALUES (s.[id], s.[name], s.[region]);",
      "IF NOT EXISTS (SELECT 1 FROM [op_journal] WHERE [op_id] = N'TP2-11111111-2222-4333-8444-555555555555') BEGIN INSERT INTO [op_journal] ([op_id], [region], [entity], [entity_key], [action], [payload], [seq], [epoch], [outcome], [accepted_at]) VALUES (N'TP2-11111111-2222-4333-8444-555555555555', N'TP2', N'customer', N'KH-1', N'create', N'{\"opId\":\"TP2-11111111-2222-4333-8444-555555555555\",\"region\":\"TP2\",\"entity\":\"customer\",\"key\":\"KH-1\",\"action\":\"create\",\"seq\":1,\"branchId\":\"CN10\",\"values\":{\"id\":\"KH-1\",\"name\":\"Nguyễn Thị ''Lan''\",\"branch_id\":\"CN10\",\"address\":null,\"phone\":null,\"region\":\"TP2\"},\"acceptedAt\":\"2025-11-27T11:59:59.000Z\",\"recoveredFrom\":\"op-log\"}', 1, 1, N'applied', CAST(N'2025-11-27T11:59:59.000Z' AS datetimeoffset)); IF NOT EXISTS (SELECT 1 FROM [entity_version] WHERE [entity] = N'customer' AND [entity_key] = N'KH-1' AND [seq] >= 1) BEGIN MERGE [entity_version] WITH (HOLDLOCK) AS t USING (SELECT N'customer' AS [entity], N'KH-1' AS [entity_key]) AS s ON t.[entity] = s.[entity] AND t.[entity_key] = s.[entity_key] WHEN MATCHED THEN UPDATE SET [seq] = 1, [deleted] = 0 WHEN NOT MATCHED THEN INSERT ([entity], [entity_key], [region], [seq], [deleted]) VALUES (s.[entity], s.[entity_key], N'TP2', 1, 0); MERGE [customer] WITH (HOLDLOCK) AS t USING (SELECT N'KH-1' AS [id], N'Nguyễn Thị ''Lan''' AS [name], N'CN10' AS [branch_id], NULL AS [address], NULL AS [phone], N'TP2' AS [region]) AS s ON t.[id] = s.[id] WHEN MATCHED AND EXISTS (SELECT s.[name], s.[branch_id], s.[address], s.[phone], s.[region] EXCEPT SELECT t.[name], t.[branch_id], t.[address], t.[phone], t.[region]) THEN UPDATE SET t.[name] = s.[name], t.[branch_id] = s.[branch_id], t.[address] = s.[address], t.[phone] = s.[phone], t.[region] = s.[region] WHEN NOT MATCHED THEN INSERT ([id], [name], [branch_id], [address], [phone], [region]) VALUES (s.[id], s.[name], s.[branch_id], s.[address], s.[phone], s.[region]); END END;",
      "COMMIT TRANSACTION;",
    ]);
  });
});
