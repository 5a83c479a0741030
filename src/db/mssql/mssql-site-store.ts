import sql from 'mssql';
import { ENTITIES, ENTITY_ORDER, type EntityName, type Row } from '../../domain/entities.js';
import { copyJournalEntryStatement, entityVersionsStatement, journalOpIdsStatement, versionGateStatement } from './resync-statements.js';
import { EssError } from '../../domain/errors.js';
import type { Region, SiteId } from '../../domain/fragmentation.js';
import type { WriteOp } from '../../domain/write-op.js';
import { canonicalRow, toApiRow, type DbValues } from '../row-codec.js';
import type { ApplyResult, ConsumptionSummary, EntityState, JournalEntry, ReplicaChange, BatchItem, ListQuery, ScriptResult, SiteStore, SiteStoreOptions, TableDigest } from '../site-store.js';
import { mssqlPoolConfig } from './connection-config.js';
import { migrateMssql } from './migrate.js';
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
  type MssqlParam,
  type MssqlStatement,
  type MssqlTypeName,
} from './statements.js';

/** Options of a SQL Server site store (`url`: `mssql://user:password@host:1433/ess?encrypt=true&trustServerCertificate=true`, see `parseMssqlUrl`). */
export type MssqlSiteStoreOptions = SiteStoreOptions;

/** Rows deleted per purge statement. */
const PURGE_BATCH = 5000;

/** The `mssql` type of a parameter type name. */
export function driverType(type: MssqlTypeName): sql.ISqlType | (() => sql.ISqlType) {
  if (type === 'nvarchar(max)') return sql.NVarChar(sql.MAX);
  const text = /^nvarchar\((\d+)\)$/.exec(type);
  if (text) return sql.NVarChar(Number(text[1]));
  switch (type) {
    case 'decimal(12,3)':
      return sql.Decimal(12, 3);
    case 'bigint':
      return sql.BigInt;
    case 'int':
      return sql.Int;
    case 'bit':
      return sql.Bit;
    case 'date':
      return sql.Date;
    case 'datetimeoffset(3)':
      return sql.DateTimeOffset(3);
  }
  throw new Error(`no mssql type for ${type}`);
}

/** A canonical value as the driver wants it: dates and instants as `Date` (UTC). */
function driverValue(p: MssqlParam): unknown {
  if (p.value === null) return null;
  if (p.type === 'date') return new Date(`${String(p.value)}T00:00:00Z`);
  if (p.type === 'datetimeoffset(3)') return new Date(String(p.value));
  return p.value;
}

function bind(req: sql.Request, stmt: MssqlStatement): sql.Request {
  for (const p of stmt.params) req.input(p.name, driverType(p.type), driverValue(p));
  return req;
}

const UNAVAILABLE_CODES = new Set(['ETIMEOUT', 'ESOCKET', 'ECONNCLOSED', 'ENOTOPEN', 'ECONNRESET', 'ECONNREFUSED', 'ENOCONN', 'ETIMEDOUT']);

/** Maps an `mssql` error to a domain error where its meaning is known. */
export function mapMssqlError(err: unknown, op?: WriteOp): unknown {
  if (err instanceof EssError) return err;
  const e = err as { number?: number; code?: string; message?: string; name?: string };
  const message = e?.message ?? String(err);
  // 547: a constraint conflict; only FOREIGN KEY / REFERENCE ones mean a missing parent or a child.
  if (e?.number === 547 && /FOREIGN KEY|REFERENCE/i.test(message)) {
    if (op?.action === 'delete') return new EssError('has_children', `${op.entity} ${op.key} is still referenced: ${message}`, {}, { cause: err });
    return new EssError('parent_missing', `parent of ${op?.entity ?? 'row'} ${op?.key ?? ''} is not on this site: ${message}`, {}, { cause: err });
  }
  // Data the site refuses for good (NULL into NOT NULL 515, CHECK conflicts 547, duplicate keys
  // 2627/2601, truncation 2628/8152, conversion 245/8114): retrying cannot fix them.
  if (e?.number !== undefined && [515, 547, 2627, 2601, 2628, 8152, 245, 8114].includes(e.number)) {
    return new EssError('rejected_by_site', `the site refused ${op ? `${op.entity} ${op.key}` : 'the statement'}: ${message}`, {}, { cause: err });
  }
  if (e?.name === 'ConnectionError' || (e?.code && UNAVAILABLE_CODES.has(e.code)) || /timeout|ECONNREFUSED|ECONNRESET|Connection (is )?closed|Failed to connect/i.test(message)) {
    return new EssError('site_unavailable', message, {}, { cause: err });
  }
  return err;
}

/** Driver row → canonical column values of an entity (BIGINT arrives as text, DATE as a UTC `Date`). */
function canonical(entity: EntityName, raw: Record<string, unknown>): DbValues {
  return canonicalRow(ENTITIES[entity], raw);
}

/**
 * The {@link SiteStore} of a SQL Server site, through an `mssql` (tedious) connection pool.
 * The pool connects lazily and again after a failed connect; connections broken by a server
 * restart are dropped on acquire (socket validation) and replaced. Every request has the
 * configured request timeout; every statement is parameterised (see `statements.ts`).
 */
export class MssqlSiteStore implements SiteStore {
  readonly dialect = 'mssql' as const;
  readonly site: SiteId;
  private readonly config: sql.config;
  private pool: Promise<sql.ConnectionPool> | undefined;
  private probe: { pool: Promise<sql.ConnectionPool>; timeoutMs: number } | undefined;
  private closed = false;

  /** @throws Error when the URL is not an `mssql://` URL (see `parseMssqlUrl`) */
  constructor(readonly options: MssqlSiteStoreOptions) {
    this.site = options.site;
    this.config = mssqlPoolConfig(options.url, {
      poolSize: options.poolSize,
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.statementTimeoutMs,
      appName: `ess-${options.site}`,
    });
  }

  private connect(config: sql.config): Promise<sql.ConnectionPool> {
    const pool = new sql.ConnectionPool(config);
    pool.on('error', (err: Error) => this.options.onPoolError?.(err));
    return pool.connect();
  }

  /** The connected pool; a failed connect is forgotten so the next call tries again. */
  private getPool(): Promise<sql.ConnectionPool> {
    if (this.closed) return Promise.reject(new EssError('site_unavailable', `${this.site}: store is closed`));
    if (!this.pool) {
      const p = this.connect(this.config);
      this.pool = p;
      p.catch(() => {
        if (this.pool === p) this.pool = undefined;
      });
    }
    return this.pool.catch((err) => {
      throw mapMssqlError(err);
    });
  }

  /** Runs one statement on the pool (or in a transaction), mapping connection failures to `site_unavailable`. */
  async run<T = Record<string, unknown>>(stmt: MssqlStatement, tx?: sql.Transaction): Promise<sql.IResult<T>> {
    try {
      const req = tx ? new sql.Request(tx) : (await this.getPool()).request();
      return await bind(req, stmt).query<T>(stmt.text);
    } catch (err) {
      throw mapMssqlError(err);
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    // A pool of one connection kept for probes, with the probe's own timeouts: a probe every
    // 500 ms must not log in each time, and must not queue behind busy work connections.
    if (!this.probe || this.probe.timeoutMs !== timeoutMs) {
      const old = this.probe;
      this.probe = {
        timeoutMs,
        pool: this.connect({
          ...this.config,
          connectionTimeout: timeoutMs,
          requestTimeout: timeoutMs,
          pool: { max: 1, min: 0, idleTimeoutMillis: 30_000, acquireTimeoutMillis: timeoutMs },
        }),
      };
      old?.pool.then((p) => p.close()).catch(() => undefined);
    }
    const probe = this.probe;
    const timer = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new EssError('site_unavailable', `${this.site}: no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
    );
    try {
      await Promise.race([probe.pool.then((p) => p.request().query('SELECT 1 AS [ok]')), timer]);
    } catch (err) {
      // Start from a fresh connection next time (the server may have restarted or hung).
      if (this.probe === probe) this.probe = undefined;
      probe.pool.then((p) => p.close()).catch(() => undefined);
      throw mapMssqlError(err);
    }
  }

  async migrate(): Promise<string[]> {
    return migrateMssql(await this.getPool());
  }

  /** One transaction per item (a batched form for SQL Server is not built yet). */
  async applyBatch(items: readonly BatchItem[]): Promise<ApplyResult[]> {
    const out: ApplyResult[] = [];
    for (const it of items) out.push(await this.applyOp(it.op, it.epoch, it.change));
    return out;
  }

  async applyOp(op: WriteOp, epoch: number, replica?: ReplicaChange): Promise<ApplyResult> {
    const def = ENTITIES[op.entity];
    const tx = new sql.Transaction(await this.getPool());
    try {
      await tx.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
    } catch (err) {
      throw mapMssqlError(err, op);
    }
    try {
      const gate = await this.run<{ fresh: boolean; newest: boolean }>(journalGateStatement(op, epoch), tx);
      const { fresh, newest } = gate.recordset[0]!;
      if (!fresh) {
        await tx.rollback();
        const [entry] = await this.journalEntries([op.opId]);
        const current = await this.getRaw(op.entity, op.key);
        return { opId: op.opId, outcome: entry?.outcome ?? 'applied', duplicate: true, row: current ? toApiRow(op.entity, current) : null, dbRow: current };
      }
      if (replica?.superseded || (!newest && !replica)) {
        await this.run(markSupersededStatement(op.opId), tx);
        await tx.commit();
        return { opId: op.opId, outcome: 'superseded', duplicate: false, row: null, dbRow: null };
      }
      if (!newest) {
        // A replica after a later op of its entity: its source's outcome, the row left as it is.
        await tx.commit();
        return { opId: op.opId, outcome: 'applied', duplicate: false, row: null, dbRow: null, late: true };
      }
      let raw: Record<string, unknown> | undefined;
      if (replica?.row && op.action !== 'delete') {
        raw = (await this.run(upsertStatement(def, replica.row), tx)).recordset[0];
      } else if (op.action === 'create') {
        raw = (await this.run(upsertStatement(def, op.values), tx)).recordset[0];
      } else if (op.action === 'update') {
        raw = (await this.run(updateStatement(def, op.key, op.values), tx)).recordset[0];
        if (!raw) throw new EssError('row_missing', `${op.entity} ${op.key} is not on ${this.site}`);
      } else {
        await this.run(deleteStatement(def, op.key), tx);
      }
      await tx.commit();
      const dbRow = raw ? canonical(op.entity, raw) : null;
      return { opId: op.opId, outcome: 'applied', duplicate: false, row: dbRow ? toApiRow(op.entity, dbRow) : null, dbRow };
    } catch (err) {
      // With XACT_ABORT on (abortTransactionOnError) the server may have rolled back already.
      await tx.rollback().catch(() => undefined);
      throw mapMssqlError(err, op);
    }
  }

  async recordFailure(op: WriteOp, epoch: number, reason: string): Promise<void> {
    await this.run(recordFailureStatement(op, epoch, reason));
  }

  private async getRaw(entity: EntityName, id: string): Promise<DbValues | null> {
    const res = await this.run(getByIdStatement(ENTITIES[entity], id));
    return res.recordset[0] ? canonical(entity, res.recordset[0]) : null;
  }

  async getById(entity: EntityName, id: string, region?: Region): Promise<Row | null> {
    const row = await this.getRaw(entity, id);
    if (!row || (region && row['region'] !== region)) return null;
    return toApiRow(entity, row);
  }

  async list(entity: EntityName, q: ListQuery): Promise<Row[]> {
    const res = await this.run(listStatement(ENTITIES[entity], q));
    return res.recordset.map((r) => toApiRow(entity, canonical(entity, r)));
  }

  async journalEntries(opIds: readonly string[]): Promise<JournalEntry[]> {
    if (opIds.length === 0) return [];
    const res = await this.run<Record<string, any>>(journalEntriesStatement(opIds));
    return res.recordset.map((r) => ({
      opId: r['op_id'],
      region: r['region'],
      entity: r['entity'],
      key: r['entity_key'],
      action: r['action'],
      seq: Number(r['seq']),
      epoch: Number(r['epoch']),
      outcome: r['outcome'],
      error: r['error'] ?? null,
      acceptedAt: new Date(r['accepted_at']).toISOString(),
      appliedAt: new Date(r['applied_at']).toISOString(),
      payload: JSON.parse(r['payload']),
    }));
  }

  async journalCount(region?: Region): Promise<number> {
    const res = await this.run<{ n: number }>(journalCountStatement(region));
    return Number(res.recordset[0]!.n);
  }

  async tableDigest(table: string, region?: Region): Promise<TableDigest> {
    const res = await this.run<{ count: number; checksum: string }>(tableDigestStatement(table, region));
    return { count: Number(res.recordset[0]!.count), checksum: res.recordset[0]!.checksum };
  }

  async rowDigests(table: string, region?: Region): Promise<Map<string, string>> {
    const res = await this.run<{ id: string; digest: string }>(rowDigestsStatement(table, region));
    return new Map(res.recordset.map((r) => [String(r.id), String(r.digest)]));
  }

  async placements(entity: EntityName, region: Region): Promise<Array<{ id: string; branchId: string }>> {
    const res = await this.run<{ id: string; branch_id: string }>(placementsStatement(entity, region));
    return res.recordset.map((r) => ({ id: String(r.id), branchId: String(r.branch_id) }));
  }

  async consumption(regions: readonly Region[]): Promise<ConsumptionSummary[]> {
    if (regions.length === 0) return [];
    const res = await this.run<{ region: Region; readings: number; kwh: string }>(consumptionStatement(regions));
    return res.recordset.map((r) => ({ region: r.region, readings: Number(r.readings), kwh: String(r.kwh) }));
  }

  async purgeJournal(days: number): Promise<number> {
    let total = 0;
    for (;;) {
      const res = await this.run(purgeJournalStatement(days, PURGE_BATCH));
      const n = res.rowsAffected[0] ?? 0;
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }

  async executeScript(statements: readonly string[]): Promise<ScriptResult> {
    const tx = new sql.Transaction(await this.getPool());
    try {
      await tx.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
    } catch (err) {
      throw mapMssqlError(err);
    }
    let rowsChanged = 0;
    try {
      for (const text of statements) {
        const res = await new sql.Request(tx).batch(text);
        rowsChanged += res.rowsAffected.reduce((a, b) => a + b, 0);
      }
      await tx.commit();
      return { statements: statements.length, rowsChanged };
    } catch (err) {
      await tx.rollback().catch(() => undefined);
      throw mapMssqlError(err);
    }
  }

  async journalOpIds(region: Region): Promise<Set<string>> {
    const res = await this.run<{ op_id: string }>(journalOpIdsStatement(region));
    return new Set(res.recordset.map((r) => String(r.op_id)));
  }

  async entityStates(keys: ReadonlyArray<{ entity: EntityName; key: string }>): Promise<EntityState[]> {
    const out: EntityState[] = [];
    const byEntity = new Map<EntityName, string[]>();
    for (const k of keys) byEntity.set(k.entity, [...(byEntity.get(k.entity) ?? []), k.key]);
    for (const [entity, ids] of byEntity) {
      const versions = await this.run<{ entity_key: string; seq: string | number; deleted: boolean }>(entityVersionsStatement(entity, ids));
      const verById = new Map(versions.recordset.map((v) => [String(v.entity_key), { seq: Number(v.seq), deleted: Boolean(v.deleted) }]));
      for (const id of new Set(ids)) {
        const v = verById.get(id);
        out.push({ entity, key: id, row: await this.getRaw(entity, id), seq: v?.seq ?? 0, deleted: v?.deleted ?? false });
      }
    }
    return out;
  }

  async installStates(entries: readonly JournalEntry[], states: readonly EntityState[]): Promise<number> {
    const tx = new sql.Transaction(await this.getPool());
    try {
      await tx.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
    } catch (err) {
      throw mapMssqlError(err);
    }
    try {
      for (const e of entries) await this.run(copyJournalEntryStatement(e), tx);
      const order = (s: EntityState) => ENTITY_ORDER.indexOf(s.entity);
      const upserts = states.filter((s) => s.row).sort((a, b) => order(a) - order(b));
      const deletes = states.filter((s) => !s.row).sort((a, b) => order(b) - order(a));
      let changed = 0;
      for (const s of [...upserts, ...deletes]) {
        const region = ((s.row?.['region'] as Region | undefined) ?? entries.find((e) => e.entity === s.entity && e.key === s.key)?.region ?? 'TP1') as Region;
        const gate = await this.run<{ newer: boolean }>(versionGateStatement(s, region), tx);
        if (!gate.recordset[0]?.newer) continue;
        const def = ENTITIES[s.entity];
        await this.run(s.row ? upsertStatement(def, s.row) : deleteStatement(def, s.key), tx);
        changed++;
      }
      await tx.commit();
      return changed;
    } catch (err) {
      await tx.rollback().catch(() => undefined);
      throw mapMssqlError(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [this.pool, this.probe?.pool].filter((p): p is Promise<sql.ConnectionPool> => p !== undefined);
    this.pool = undefined;
    this.probe = undefined;
    await Promise.all(pools.map((p) => p.then((pool) => pool.close()).catch(() => undefined)));
  }
}
