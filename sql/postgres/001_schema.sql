-- ESS schema, PostgreSQL dialect, version 1.
-- Applied to every site (db1..db4) by src/db/postgres/migrate.ts inside one transaction per file.
-- Regional tables carry their region so the backup site (db4), which holds every region's replica,
-- can be read, verified and resynced one region at a time.

CREATE TABLE region (
  id   TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL
);

CREATE TABLE branch (
  id     TEXT COLLATE "C" PRIMARY KEY,
  name   TEXT NOT NULL,
  region TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX branch_region_idx ON branch (region, id);

CREATE TABLE employee (
  id        TEXT COLLATE "C" PRIMARY KEY,
  full_name TEXT NOT NULL,
  branch_id TEXT NOT NULL REFERENCES branch(id),
  email     TEXT,
  role      TEXT,
  region    TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX employee_branch_idx ON employee (branch_id, id);
CREATE INDEX employee_region_idx ON employee (region, id);

CREATE TABLE customer (
  id        TEXT COLLATE "C" PRIMARY KEY,
  name      TEXT NOT NULL,
  branch_id TEXT NOT NULL REFERENCES branch(id),
  address   TEXT,
  phone     TEXT,
  region    TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX customer_branch_idx ON customer (branch_id, id);
CREATE INDEX customer_region_idx ON customer (region, id);

CREATE TABLE contract (
  id           TEXT COLLATE "C" PRIMARY KEY,
  customer_id  TEXT NOT NULL REFERENCES customer(id),
  signed_on    DATE NOT NULL,
  meter_serial TEXT NOT NULL,
  kwh_quota    NUMERIC(12,3),
  unit_price   BIGINT CHECK (unit_price >= 0),          -- VND per kWh, whole dong
  is_paid      BOOLEAN,
  region       TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX contract_customer_idx ON contract (customer_id, id);
CREATE INDEX contract_region_idx ON contract (region, id);

CREATE TABLE meter_reading (
  id          TEXT COLLATE "C" PRIMARY KEY,
  contract_id TEXT NOT NULL REFERENCES contract(id),
  read_on     DATE NOT NULL,
  kwh         NUMERIC(12,3) NOT NULL CHECK (kwh >= 0),  -- energy in the period, kWh
  meter_index NUMERIC(12,3),                            -- cumulative register, kWh
  half_hours  SMALLINT CHECK (half_hours BETWEEN 0 AND 48),
  region      TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX meter_reading_contract_idx ON meter_reading (contract_id, read_on);
CREATE INDEX meter_reading_region_idx ON meter_reading (region, id);

CREATE TABLE invoice (
  id          TEXT COLLATE "C" PRIMARY KEY,
  contract_id TEXT NOT NULL REFERENCES contract(id),
  month       SMALLINT NOT NULL CHECK (month BETWEEN 1 AND 12),
  year        SMALLINT NOT NULL,
  employee_id TEXT REFERENCES employee(id),
  kwh         NUMERIC(12,3),
  amount      BIGINT NOT NULL CHECK (amount >= 0),      -- VND, VAT included
  region      TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX invoice_contract_idx ON invoice (contract_id, year, month);
CREATE INDEX invoice_region_idx ON invoice (region, id);

CREATE TABLE payment (
  id         TEXT COLLATE "C" PRIMARY KEY,
  invoice_id TEXT NOT NULL REFERENCES invoice(id),
  paid_at    TIMESTAMPTZ NOT NULL,
  amount     BIGINT NOT NULL CHECK (amount >= 0),       -- VND
  region     TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX payment_region_idx ON payment (region, id);

-- A staff or customer move between branches; recorded in both regions when they differ.
CREATE TABLE transfer (
  id             TEXT COLLATE "C" PRIMARY KEY,
  employee_id    TEXT,
  customer_id    TEXT,
  moved_at       TIMESTAMPTZ NOT NULL,
  from_branch_id TEXT NOT NULL,
  to_branch_id   TEXT NOT NULL,
  region         TEXT NOT NULL REFERENCES region(id)
);
CREATE INDEX transfer_region_idx ON transfer (region, id);

-- The op journal: one row per write op this site has seen, inserted in the same transaction as
-- the change. Its primary key makes a redelivered op a no-op (exactly-once effect).
CREATE TABLE op_journal (
  op_id       TEXT PRIMARY KEY,
  region      TEXT NOT NULL,
  entity      TEXT NOT NULL,
  entity_key  TEXT NOT NULL,
  action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
  payload     JSONB NOT NULL,
  seq         BIGINT NOT NULL,             -- per-entity sequence given at acceptance
  epoch       BIGINT NOT NULL,             -- routing epoch the op was applied under
  outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'superseded', 'failed')),
  error       TEXT,
  accepted_at TIMESTAMPTZ NOT NULL,
  applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX op_journal_region_idx ON op_journal (region, applied_at);
CREATE INDEX op_journal_entity_idx ON op_journal (entity, entity_key, seq);

-- The highest sequence applied per entity (kept after a delete, as a tombstone): an op whose
-- sequence is not higher is journaled as superseded and changes nothing.
CREATE TABLE entity_version (
  entity     TEXT NOT NULL,
  entity_key TEXT NOT NULL,
  region     TEXT NOT NULL,
  seq        BIGINT NOT NULL,
  deleted    BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (entity, entity_key)
);

INSERT INTO region (id, name) VALUES
  ('TP1', 'Miền Bắc (North)'),
  ('TP2', 'Miền Trung (Centre)'),
  ('TP3', 'Miền Nam (South)');
