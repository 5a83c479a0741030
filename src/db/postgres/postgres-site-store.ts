import pg from 'pg';
import { ENTITIES, ENTITY_ORDER, type EntityName, type Row } from '../../domain/entities.js';
import { EssError } from '../../domain/errors.js';
import type { Region, SiteId } from '../../domain/fragmentation.js';
import type { WriteOp } from '../../domain/write-op.js';
import { canonicalRow, toApiRow } from '../row-codec.js';
import type {
  ApplyResult,
  ConsumptionSummary,
  EntityState,
  JournalEntry,
  ReplicaChange,
  BatchItem,
  ListQuery,
  ScriptResult,
  SiteStoreOptions,
  SiteStore,
  TableDigest,
} from '../site-store.js';
import { batchStatements } from './batch-statement.js';
import { migratePostgres } from './migrate.js';
import { deleteSql, journalGateSql, upsertSql, updateSql } from './statements.js';

/** Options of a PostgreSQL site store (`url`: a `postgres://` URL). Timeouts in ms. */
export type PostgresSiteStoreOptions = SiteStoreOptions;

// Dates stay `YYYY-MM-DD` text (pg would turn them into local-time Date objects).
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 1082) return (v: string) => v;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

const REFERENCE_TABLES = new Set(['region']);
const KNOWN_TABLES = new Set([...Object.values(ENTITIES).map((e) => e.table), ...REFERENCE_TABLES]);

function tableName(table: string): string {
  if (!KNOWN_TABLES.has(table)) throw new EssError('bad_request', `unknown table "${table}"`);
  return table;
}

/** Maps a pg error to a domain error where its meaning is known. */
function mapPgError(err: unknown, op?: WriteOp): unknown {
  const e = err as { code?: string; message?: string; detail?: string };
  if (e?.code === '23503') {
    if (op?.action === 'delete') {
      return new EssError('has_children', `${op.entity} ${op.key} is still referenced: ${e.detail ?? e.message}`, {}, { cause: err });
    }
    return new EssError('parent_missing', `parent of ${op?.entity ?? 'row'} ${op?.key ?? ''} is not on this site: ${e.detail ?? e.message}`, {}, { cause: err });
  }
  // Data exceptions and integrity violations other than foreign keys: retrying cannot fix them.
  if (e?.code && (e.code.startsWith('22') || ['23502', '23514', '23505', '23P01'].includes(e.code))) {
    return new EssError('rejected_by_site', `the site refused ${op ? `${op.entity} ${op.key}` : 'the statement'}: ${e.message}`, {}, { cause: err });
  }
  if (e?.code === '57014' || e?.code === '57P01' || e?.code === '57P03' || /timeout|ECONNREFUSED|ECONNRESET|terminat|Connection/i.test(e?.message ?? '')) {
    return new EssError('site_unavailable', e?.message ?? 'site unavailable', {}, { cause: err });
  }
  return err;
}

/** The {@link SiteStore} of a PostgreSQL site, through a `pg` pool. */
export class PostgresSiteStore implements SiteStore {
  readonly dialect = 'postgres' as const;
  readonly site: SiteId;
  private readonly pool: pg.Pool;

  constructor(readonly options: PostgresSiteStoreOptions) {
    this.site = options.site;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 10_000,
      statement_timeout: options.statementTimeoutMs,
      query_timeout: options.statementTimeoutMs + 1000,
      lock_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
      application_name: `ess-${options.site}`,
      types,
    });
    this.pool.on('error', (err) => options.onPoolError?.(err));
  }

  private probeClient: pg.Client | undefined;

  /**
   * Probes the site over one long-lived connection kept for probes (a probe every 500 ms must not
   * log in each time, nor queue behind busy work connections); a failed probe drops it, so the next
   * one connects afresh.
   */
  async ping(timeoutMs: number): Promise<void> {
    const timer = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new EssError('site_unavailable', `${this.site}: no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
    );
    let client = this.probeClient;
    try {
      if (!client) {
        client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: timeoutMs, application_name: `ess-probe-${this.site}` });
        client.on('error', () => undefined);
        this.probeClient = client;
        await Promise.race([client.connect(), timer]);
      }
      await Promise.race([client.query('SELECT 1'), timer]);
    } catch (err) {
      if (this.probeClient === client) this.probeClient = undefined;
      client?.end().catch(() => undefined);
      throw mapPgError(err);
    }
  }

  migrate(): Promise<string[]> {
    return migratePostgres(this.pool);
  }

  async applyOp(op: WriteOp, epoch: number, replica?: ReplicaChange): Promise<ApplyResult> {
    if (replica || op.action === 'create') {
      // A whole row (a create's own values, a replica's source row): the prepared batch statement
      // with one op, one round trip. Updates and deletes on the serving site need the row there.
      const [r] = await this.applyBatch([replica ? { op, epoch, change: replica, replica: true } : { op, epoch, change: { row: op.values, superseded: false } }]);
      return r!;
    }
    return this.inTransaction(op, (client) => this.applyWith(client, op, epoch));
  }

  /** What is there for an op the journal already holds (a redelivery): its outcome and the current row. */
  private async existing(op: WriteOp, client?: pg.PoolClient): Promise<ApplyResult> {
    const outcome = (await (client ?? this.pool).query<{ outcome: ApplyResult['outcome'] }>(`SELECT outcome FROM op_journal WHERE op_id = $1`, [op.opId])).rows[0]?.outcome;
    const current = await this.getRaw(op.entity, op.key, client);
    return { opId: op.opId, outcome: outcome ?? 'applied', duplicate: true, row: current ? toApiRow(op.entity, current) : null, dbRow: current };
  }

  /**
   * Applies ops with whole rows as prepared statements taking arrays, one per entity table
   * (`batch-statement.ts`): one round trip and one transaction for a batch of one table, each op
   * with its own journal row and version gate, in the given order. An error in any of them rolls
   * back the whole batch and is thrown (mapped as {@link applyOp} maps it).
   */
  async applyBatch(items: readonly BatchItem[]): Promise<ApplyResult[]> {
    if (items.length === 0) return [];
    const statements = batchStatements(items);
    const rows: Array<Record<string, unknown> | undefined> = new Array(items.length);
    const collect = (res: pg.QueryResult) => {
      for (const r of res.rows as Array<Record<string, unknown>>) rows[Number(r['ess_ord'])] = r;
    };
    const single = items.length === 1 ? items[0]!.op : undefined;
    if (statements.length === 1) {
      const st = statements[0]!;
      try {
        collect(await this.pool.query({ name: st.name, text: st.text, values: st.values }));
      } catch (err) {
        throw mapPgError(err, single);
      }
    } else {
      await this.inTransaction(single, async (client) => {
        for (const st of statements) collect(await client.query({ name: st.name, text: st.text, values: st.values }));
      });
    }
    const out: ApplyResult[] = [];
    for (let i = 0; i < items.length; i++) {
      const { op } = items[i]!;
      const r = rows[i];
      if (!r || r['ess_dup'] || r['ess_outcome'] === null) {
        // Journaled before (a re-run), or by a concurrent copy of this op: report what is there.
        out.push(
          await this.existing(op).catch((err) => {
            throw mapPgError(err, op);
          }),
        );
        continue;
      }
      const outcome = r['ess_outcome'] as ApplyResult['outcome'];
      const dbRow = outcome === 'applied' && r['id'] !== undefined && r['id'] !== null ? canonicalRow(ENTITIES[op.entity], r) : null;
      const late = outcome === 'applied' && !r['ess_newest'];
      out.push({ opId: op.opId, outcome, duplicate: false, row: dbRow ? toApiRow(op.entity, dbRow) : null, dbRow, ...(late ? { late } : {}) });
    }
    return out;
  }

  /** The transactional apply of an update or delete on `client` (inside a transaction the caller owns). */
  private async applyWith(client: pg.PoolClient, op: WriteOp, epoch: number): Promise<ApplyResult> {
    const def = ENTITIES[op.entity];
    const gate = await client.query<{ fresh: boolean; newest: boolean }>(journalGateSql, [
      op.opId,
      op.region,
      op.entity,
      op.key,
      op.action,
      JSON.stringify(op),
      op.seq,
      epoch,
      op.acceptedAt,
      op.action === 'delete',
    ]);
    const { fresh, newest } = gate.rows[0]!;
    // A redelivery: nothing was written; read with this same client (a second one could exhaust
    // the pool under a burst of redeliveries).
    if (!fresh) return this.existing(op, client);
    if (!newest) {
      await client.query(`UPDATE op_journal SET outcome = 'superseded' WHERE op_id = $1`, [op.opId]);
      return { opId: op.opId, outcome: 'superseded', duplicate: false, row: null, dbRow: null };
    }
    let raw: Record<string, unknown> | undefined;
    if (op.action === 'update') {
      const { text, values } = updateSql(def, op.key, op.values);
      raw = (await client.query(text, values)).rows[0];
      if (!raw) throw new EssError('row_missing', `${op.entity} ${op.key} is not on ${this.site}`);
    } else {
      await client.query(deleteSql(def), [op.key]);
    }
    const dbRow = raw ? canonicalRow(def, raw) : null;
    return { opId: op.opId, outcome: 'applied', duplicate: false, row: dbRow ? toApiRow(op.entity, dbRow) : null, dbRow };
  }

  /**
   * Runs `fn` in one transaction on a pooled client: COMMIT when it returns, ROLLBACK when it
   * throws (errors mapped to domain errors); a client whose ROLLBACK failed is discarded.
   */
  private async inTransaction<T>(op: WriteOp | undefined, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapPgError(err, op);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw mapPgError(err, op);
    } finally {
      client.release(broken);
    }
  }

  async recordFailure(op: WriteOp, epoch: number, reason: string): Promise<void> {
    await this.query(
      `INSERT INTO op_journal (op_id, region, entity, entity_key, action, payload, seq, epoch, outcome, error, accepted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'failed', $9, $10) ON CONFLICT (op_id) DO NOTHING`,
      // The journal must take a failure whatever the op holds: text jsonb refuses (a lone UTF-16
      // surrogate) is stored with U+FFFD in its place; the reason says what was refused.
      [op.opId, op.region, op.entity, op.key, op.action, JSON.stringify(op, (_k, v: unknown) => (typeof v === 'string' ? v.replace(/[\uD800-\uDFFF]/gu, '\uFFFD') : v)), op.seq, epoch, reason, op.acceptedAt],
    );
  }

  private async getRaw(entity: EntityName, id: string, client?: pg.PoolClient) {
    const def = ENTITIES[entity];
    const res = await (client ?? this.pool).query(`SELECT * FROM ${def.table} WHERE id = $1`, [id]);
    return res.rows[0] ? canonicalRow(def, res.rows[0]) : null;
  }

  async getById(entity: EntityName, id: string, region?: Region): Promise<Row | null> {
    const row = await this.getRaw(entity, id).catch((err) => {
      throw mapPgError(err);
    });
    if (!row || (region && row['region'] !== region)) return null;
    return toApiRow(entity, row);
  }

  async list(entity: EntityName, q: ListQuery): Promise<Row[]> {
    const def = ENTITIES[entity];
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.region) where.push(`region = $${values.push(q.region)}`);
    if (q.parent) {
      if (!def.columns.some((c) => c.column === q.parent!.column)) {
        throw new EssError('bad_request', `${entity} has no column ${q.parent.column}`);
      }
      where.push(`${q.parent.column} = $${values.push(q.parent.value)}`);
    }
    if (q.afterId !== undefined) where.push(`id > $${values.push(q.afterId)}`);
    const sql = `SELECT * FROM ${def.table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${values.push(q.limit)}`;
    const res = await this.query(sql, values);
    return res.rows.map((r) => toApiRow(entity, canonicalRow(def, r)));
  }

  async journalEntries(opIds: readonly string[]): Promise<JournalEntry[]> {
    if (opIds.length === 0) return [];
    const res = await this.query(`SELECT * FROM op_journal WHERE op_id = ANY($1)`, [opIds]);
    return res.rows.map((r) => ({
      opId: r.op_id,
      region: r.region,
      entity: r.entity,
      key: r.entity_key,
      action: r.action,
      seq: Number(r.seq),
      epoch: Number(r.epoch),
      outcome: r.outcome,
      error: r.error,
      acceptedAt: new Date(r.accepted_at).toISOString(),
      appliedAt: new Date(r.applied_at).toISOString(),
      payload: r.payload,
    }));
  }

  async journalCount(region?: Region): Promise<number> {
    const res = region
      ? await this.query(`SELECT count(*)::int AS n FROM op_journal WHERE region = $1`, [region])
      : await this.query(`SELECT count(*)::int AS n FROM op_journal`);
    return res.rows[0].n;
  }

  async tableDigest(table: string, region?: Region): Promise<TableDigest> {
    const t = tableName(table);
    const where = region ? ` WHERE region = $1` : '';
    const res = await this.query(
      `SELECT count(*)::int AS count, md5(coalesce(string_agg(md5(t::text), '' ORDER BY t.id), '')) AS checksum FROM ${t} t${where}`,
      region ? [region] : [],
    );
    return { count: res.rows[0].count, checksum: res.rows[0].checksum };
  }

  async rowDigests(table: string, region?: Region): Promise<Map<string, string>> {
    const t = tableName(table);
    const where = region ? ` WHERE region = $1` : '';
    const res = await this.query(`SELECT t.id, md5(t::text) AS digest FROM ${t} t${where}`, region ? [region] : []);
    return new Map(res.rows.map((r) => [String(r.id), String(r.digest)]));
  }

  async placements(entity: EntityName, region: Region): Promise<Array<{ id: string; branchId: string }>> {
    // The branch at the root of each row's derivation chain, joined along the chain.
    const chain: Record<EntityName, string> = {
      branch: `SELECT id, id AS branch_id FROM branch WHERE region = $1`,
      employee: `SELECT id, branch_id FROM employee WHERE region = $1`,
      customer: `SELECT id, branch_id FROM customer WHERE region = $1`,
      contract: `SELECT k.id, c.branch_id FROM contract k JOIN customer c ON c.id = k.customer_id WHERE k.region = $1`,
      meterReading: `SELECT m.id, c.branch_id FROM meter_reading m JOIN contract k ON k.id = m.contract_id JOIN customer c ON c.id = k.customer_id WHERE m.region = $1`,
      invoice: `SELECT i.id, c.branch_id FROM invoice i JOIN contract k ON k.id = i.contract_id JOIN customer c ON c.id = k.customer_id WHERE i.region = $1`,
      payment: `SELECT p.id, c.branch_id FROM payment p JOIN invoice i ON i.id = p.invoice_id JOIN contract k ON k.id = i.contract_id JOIN customer c ON c.id = k.customer_id WHERE p.region = $1`,
      transfer: `SELECT id, to_branch_id AS branch_id FROM transfer WHERE region = $1`,
    };
    const res = await this.query(chain[entity], [region]);
    return res.rows.map((r) => ({ id: String(r.id), branchId: String(r.branch_id) }));
  }

  async consumption(regions: readonly Region[]): Promise<ConsumptionSummary[]> {
    const res = await this.query(
      `SELECT r.id AS region, count(m.id)::int AS readings, coalesce(sum(m.kwh), 0)::numeric(18,3)::text AS kwh
         FROM region r LEFT JOIN meter_reading m ON m.region = r.id
        WHERE r.id = ANY($1) GROUP BY r.id ORDER BY r.id`,
      [regions],
    );
    return res.rows.map((r) => ({ region: r.region, readings: r.readings, kwh: r.kwh }));
  }

  async purgeJournal(days: number): Promise<number> {
    const res = await this.query(`DELETE FROM op_journal WHERE applied_at < now() - make_interval(days => $1)`, [days]);
    return res.rowCount ?? 0;
  }

  async executeScript(statements: readonly string[]): Promise<ScriptResult> {
    return this.inTransaction(undefined, async (client) => {
      let rowsChanged = 0;
      for (const text of statements) rowsChanged += (await client.query(text)).rowCount ?? 0;
      return { statements: statements.length, rowsChanged };
    });
  }


  /** Runs one statement on the pool, mapping connection failures to `site_unavailable`. */
  async query(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(text, values);
    } catch (err) {
      throw mapPgError(err);
    }
  }

  async journalOpIds(region: Region): Promise<Set<string>> {
    const res = await this.query(`SELECT op_id FROM op_journal WHERE region = $1`, [region]);
    return new Set(res.rows.map((r) => String(r.op_id)));
  }

  async entityStates(keys: ReadonlyArray<{ entity: EntityName; key: string }>): Promise<EntityState[]> {
    const out: EntityState[] = [];
    const byEntity = new Map<EntityName, string[]>();
    for (const k of keys) byEntity.set(k.entity, [...(byEntity.get(k.entity) ?? []), k.key]);
    for (const [entity, ids] of byEntity) {
      const def = ENTITIES[entity];
      const [rows, versions] = await Promise.all([
        this.query(`SELECT * FROM ${def.table} WHERE id = ANY($1)`, [ids]),
        this.query(`SELECT entity_key, seq, deleted FROM entity_version WHERE entity = $1 AND entity_key = ANY($2)`, [entity, ids]),
      ]);
      const rowById = new Map(rows.rows.map((r) => [String(r.id), canonicalRow(def, r)]));
      const verById = new Map(versions.rows.map((v) => [String(v.entity_key), { seq: Number(v.seq), deleted: Boolean(v.deleted) }]));
      for (const id of new Set(ids)) {
        const v = verById.get(id);
        out.push({ entity, key: id, row: rowById.get(id) ?? null, seq: v?.seq ?? 0, deleted: v?.deleted ?? false });
      }
    }
    return out;
  }

  async installStates(entries: readonly JournalEntry[], states: readonly EntityState[]): Promise<number> {
    return this.inTransaction(undefined, async (client) => {
      let changed = 0;
      for (const e of entries) {
        await client.query(
          `INSERT INTO op_journal (op_id, region, entity, entity_key, action, payload, seq, epoch, outcome, error, accepted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (op_id) DO NOTHING`,
          [e.opId, e.region, e.entity, e.key, e.action, JSON.stringify(e.payload), e.seq, e.epoch, e.outcome, e.error, e.acceptedAt],
        );
      }
      const order = (s: EntityState) => ENTITY_ORDER.indexOf(s.entity);
      // Parents before children for rows that exist; children before parents for deletions.
      const upserts = states.filter((s) => s.row).sort((a, b) => order(a) - order(b));
      const deletes = states.filter((s) => !s.row).sort((a, b) => order(b) - order(a));
      for (const s of [...upserts, ...deletes]) {
        const gate = await client.query(
          `INSERT INTO entity_version (entity, entity_key, region, seq, deleted) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (entity, entity_key) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted
             WHERE entity_version.seq < EXCLUDED.seq RETURNING seq`,
          [s.entity, s.key, (s.row?.['region'] as string | undefined) ?? entries.find((e) => e.entity === s.entity && e.key === s.key)?.region ?? 'TP1', s.seq, s.deleted || !s.row],
        );
        if (!gate.rowCount) continue;
        const def = ENTITIES[s.entity];
        if (s.row) {
          const { text, values } = upsertSql(def, s.row);
          await client.query(text, values);
        } else {
          await client.query(deleteSql(def), [s.key]);
        }
        changed++;
      }
      return changed;
    });
  }

  async close(): Promise<void> {
    await this.probeClient?.end().catch(() => undefined);
    this.probeClient = undefined;
    await this.pool.end().catch(() => undefined);
  }
}
