-- ESS schema, SQL Server (T-SQL) dialect, version 1: the counterpart of sql/postgres/001_schema.sql.
-- Applied to every site (db1..db4) by src/db/mssql/migrate.ts, in one transaction with its
-- schema_migrations row; batches are separated by GO lines (split by the migrator, as sqlcmd does).
-- Every object is created only when missing, so running the file again changes nothing.
--
-- Types, chosen on purpose:
--   text        NVARCHAR(n): Unicode, so Vietnamese names ("Chi nhánh Hà Nội") survive intact.
--   keys        NVARCHAR(64) COLLATE Latin1_General_100_BIN2: binary order, the same id order as
--               PostgreSQL's COLLATE "C" (keyset cursors and scatter-gather merges agree). Every
--               column referencing a key has the same collation (a foreign key requires it).
--   kWh         DECIMAL(12,3): exact, three decimals, never a float.
--   VND         BIGINT: whole dong.
--   dates       DATE; instants DATETIMEOFFSET(3) (ms, with offset; the driver reads them as UTC).
--   booleans    BIT.
--   payload     NVARCHAR(MAX) holding JSON (checked with ISJSON), PostgreSQL's JSONB.

IF OBJECT_ID(N'dbo.region', N'U') IS NULL
CREATE TABLE dbo.region (
  id   NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT region_pkey PRIMARY KEY,
  name NVARCHAR(200) NOT NULL
);
GO

IF OBJECT_ID(N'dbo.branch', N'U') IS NULL
CREATE TABLE dbo.branch (
  id     NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT branch_pkey PRIMARY KEY,
  name   NVARCHAR(200) NOT NULL,
  region NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT branch_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'branch_region_idx' AND object_id = OBJECT_ID(N'dbo.branch'))
  CREATE INDEX branch_region_idx ON dbo.branch (region, id);
GO

IF OBJECT_ID(N'dbo.employee', N'U') IS NULL
CREATE TABLE dbo.employee (
  id        NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT employee_pkey PRIMARY KEY,
  full_name NVARCHAR(200) NOT NULL,
  branch_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT employee_branch_fkey REFERENCES dbo.branch(id),
  email     NVARCHAR(320) NULL,
  role      NVARCHAR(40) NULL,
  region    NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT employee_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'employee_branch_idx' AND object_id = OBJECT_ID(N'dbo.employee'))
  CREATE INDEX employee_branch_idx ON dbo.employee (branch_id, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'employee_region_idx' AND object_id = OBJECT_ID(N'dbo.employee'))
  CREATE INDEX employee_region_idx ON dbo.employee (region, id);
GO

IF OBJECT_ID(N'dbo.customer', N'U') IS NULL
CREATE TABLE dbo.customer (
  id        NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT customer_pkey PRIMARY KEY,
  name      NVARCHAR(200) NOT NULL,
  branch_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT customer_branch_fkey REFERENCES dbo.branch(id),
  address   NVARCHAR(400) NULL,
  phone     NVARCHAR(40) NULL,
  region    NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT customer_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'customer_branch_idx' AND object_id = OBJECT_ID(N'dbo.customer'))
  CREATE INDEX customer_branch_idx ON dbo.customer (branch_id, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'customer_region_idx' AND object_id = OBJECT_ID(N'dbo.customer'))
  CREATE INDEX customer_region_idx ON dbo.customer (region, id);
GO

IF OBJECT_ID(N'dbo.contract', N'U') IS NULL
CREATE TABLE dbo.contract (
  id           NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT contract_pkey PRIMARY KEY,
  customer_id  NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT contract_customer_fkey REFERENCES dbo.customer(id),
  signed_on    DATE NOT NULL,
  meter_serial NVARCHAR(64) NOT NULL,
  kwh_quota    DECIMAL(12,3) NULL,
  unit_price   BIGINT NULL CONSTRAINT contract_unit_price_check CHECK (unit_price >= 0),  -- VND per kWh, whole dong
  is_paid      BIT NULL,
  region       NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT contract_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'contract_customer_idx' AND object_id = OBJECT_ID(N'dbo.contract'))
  CREATE INDEX contract_customer_idx ON dbo.contract (customer_id, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'contract_region_idx' AND object_id = OBJECT_ID(N'dbo.contract'))
  CREATE INDEX contract_region_idx ON dbo.contract (region, id);
GO

IF OBJECT_ID(N'dbo.meter_reading', N'U') IS NULL
CREATE TABLE dbo.meter_reading (
  id          NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT meter_reading_pkey PRIMARY KEY,
  contract_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT meter_reading_contract_fkey REFERENCES dbo.contract(id),
  read_on     DATE NOT NULL,
  kwh         DECIMAL(12,3) NOT NULL CONSTRAINT meter_reading_kwh_check CHECK (kwh >= 0),  -- energy in the period, kWh
  meter_index DECIMAL(12,3) NULL,                                                         -- cumulative register, kWh
  half_hours  SMALLINT NULL CONSTRAINT meter_reading_half_hours_check CHECK (half_hours BETWEEN 0 AND 48),
  region      NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT meter_reading_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'meter_reading_contract_idx' AND object_id = OBJECT_ID(N'dbo.meter_reading'))
  CREATE INDEX meter_reading_contract_idx ON dbo.meter_reading (contract_id, read_on);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'meter_reading_region_idx' AND object_id = OBJECT_ID(N'dbo.meter_reading'))
  CREATE INDEX meter_reading_region_idx ON dbo.meter_reading (region, id);
GO

IF OBJECT_ID(N'dbo.invoice', N'U') IS NULL
CREATE TABLE dbo.invoice (
  id          NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT invoice_pkey PRIMARY KEY,
  contract_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT invoice_contract_fkey REFERENCES dbo.contract(id),
  month       SMALLINT NOT NULL CONSTRAINT invoice_month_check CHECK (month BETWEEN 1 AND 12),
  year        SMALLINT NOT NULL,
  employee_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NULL CONSTRAINT invoice_employee_fkey REFERENCES dbo.employee(id),
  kwh         DECIMAL(12,3) NULL,
  amount      BIGINT NOT NULL CONSTRAINT invoice_amount_check CHECK (amount >= 0),  -- VND, VAT included
  region      NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT invoice_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'invoice_contract_idx' AND object_id = OBJECT_ID(N'dbo.invoice'))
  CREATE INDEX invoice_contract_idx ON dbo.invoice (contract_id, year, month);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'invoice_region_idx' AND object_id = OBJECT_ID(N'dbo.invoice'))
  CREATE INDEX invoice_region_idx ON dbo.invoice (region, id);
GO

IF OBJECT_ID(N'dbo.payment', N'U') IS NULL
CREATE TABLE dbo.payment (
  id         NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT payment_pkey PRIMARY KEY,
  invoice_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT payment_invoice_fkey REFERENCES dbo.invoice(id),
  paid_at    DATETIMEOFFSET(3) NOT NULL,
  amount     BIGINT NOT NULL CONSTRAINT payment_amount_check CHECK (amount >= 0),   -- VND
  region     NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT payment_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'payment_region_idx' AND object_id = OBJECT_ID(N'dbo.payment'))
  CREATE INDEX payment_region_idx ON dbo.payment (region, id);
GO

-- A staff or customer move between branches; recorded in both regions when they differ.
IF OBJECT_ID(N'dbo.transfer', N'U') IS NULL
CREATE TABLE dbo.transfer (
  id             NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT transfer_pkey PRIMARY KEY,
  employee_id    NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NULL,
  customer_id    NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NULL,
  moved_at       DATETIMEOFFSET(3) NOT NULL,
  from_branch_id NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  to_branch_id   NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  region         NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT transfer_region_fkey REFERENCES dbo.region(id)
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'transfer_region_idx' AND object_id = OBJECT_ID(N'dbo.transfer'))
  CREATE INDEX transfer_region_idx ON dbo.transfer (region, id);
GO

-- The op journal: one row per write op this site has seen, inserted in the same transaction as
-- the change. Its primary key makes a redelivered op a no-op (exactly-once effect).
IF OBJECT_ID(N'dbo.op_journal', N'U') IS NULL
CREATE TABLE dbo.op_journal (
  op_id       NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT op_journal_pkey PRIMARY KEY,
  region      NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL,
  entity      NVARCHAR(40) COLLATE Latin1_General_100_BIN2 NOT NULL,
  entity_key  NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  action      NVARCHAR(10) NOT NULL CONSTRAINT op_journal_action_check CHECK (action IN (N'create', N'update', N'delete')),
  payload     NVARCHAR(MAX) NOT NULL CONSTRAINT op_journal_payload_check CHECK (ISJSON(payload) = 1),
  seq         BIGINT NOT NULL,             -- per-entity sequence given at acceptance
  epoch       BIGINT NOT NULL,             -- routing epoch the op was applied under
  outcome     NVARCHAR(12) NOT NULL CONSTRAINT op_journal_outcome_check CHECK (outcome IN (N'applied', N'superseded', N'failed')),
  error       NVARCHAR(MAX) NULL,
  accepted_at DATETIMEOFFSET(3) NOT NULL,
  applied_at  DATETIMEOFFSET(3) NOT NULL CONSTRAINT op_journal_applied_at_default DEFAULT SYSDATETIMEOFFSET()
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'op_journal_region_idx' AND object_id = OBJECT_ID(N'dbo.op_journal'))
  CREATE INDEX op_journal_region_idx ON dbo.op_journal (region, applied_at);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'op_journal_entity_idx' AND object_id = OBJECT_ID(N'dbo.op_journal'))
  CREATE INDEX op_journal_entity_idx ON dbo.op_journal (entity, entity_key, seq);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'op_journal_applied_at_idx' AND object_id = OBJECT_ID(N'dbo.op_journal'))
  CREATE INDEX op_journal_applied_at_idx ON dbo.op_journal (applied_at);  -- the purge's TOP (n) range scan
GO

-- The highest sequence applied per entity (kept after a delete, as a tombstone): an op whose
-- sequence is not higher is journaled as superseded and changes nothing.
IF OBJECT_ID(N'dbo.entity_version', N'U') IS NULL
CREATE TABLE dbo.entity_version (
  entity     NVARCHAR(40) COLLATE Latin1_General_100_BIN2 NOT NULL,
  entity_key NVARCHAR(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  region     NVARCHAR(8) COLLATE Latin1_General_100_BIN2 NOT NULL,
  seq        BIGINT NOT NULL,
  deleted    BIT NOT NULL CONSTRAINT entity_version_deleted_default DEFAULT 0,
  CONSTRAINT entity_version_pkey PRIMARY KEY (entity, entity_key)
);
GO

-- Reference rows: inserted only when missing (N'' literals keep the Vietnamese names Unicode).
MERGE dbo.region WITH (HOLDLOCK) AS t
USING (VALUES (N'TP1', N'Miền Bắc (North)'), (N'TP2', N'Miền Trung (Centre)'), (N'TP3', N'Miền Nam (South)')) AS s (id, name)
ON t.id = s.id
WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name);
GO
