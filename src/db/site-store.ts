import type { EntityName, Row } from '../domain/entities.js';
import type { Region, SiteId } from '../domain/fragmentation.js';
import type { ApplyOutcome, WriteOp } from '../domain/write-op.js';
import type { DbValues } from './row-codec.js';

/** Options every site store takes. Timeouts in ms. */
export interface SiteStoreOptions {
  readonly site: SiteId;
  /** Connection URL of the site (`postgres://…` or `mssql://…`). */
  readonly url: string;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** Per-statement (PostgreSQL) or per-request (SQL Server) timeout, ms. */
  readonly statementTimeoutMs: number;
  /** Called on pool errors (a site restart); without a listener the pool would crash the process. */
  readonly onPoolError?: (err: Error) => void;
}

/** What applying one op did on a site. */
export interface ApplyResult {
  readonly opId: string;
  /** `applied` changed the row; `superseded` found a higher sequence and changed nothing. */
  readonly outcome: ApplyOutcome;
  /** True when the op journal already had this op id: nothing was done this time. */
  readonly duplicate: boolean;
  /** The row after the change (API field names); null after a delete or when superseded. */
  readonly row: Row | null;
  /** The row after the change as database column values (for the `write.applied` log line). */
  readonly dbRow: DbValues | null;
  /**
   * A replica that arrived after a later op of its entity: journaled with its source's outcome,
   * it changed nothing here (its op-log line says `superseded`, so a replay changes nothing either).
   */
  readonly late?: boolean;
}

/** The state of one entity on a site: its row (database columns) and its version. */
export interface EntityState {
  readonly entity: EntityName;
  readonly key: string;
  /** null when the row is absent (deleted, or never created). */
  readonly row: DbValues | null;
  /** Highest applied per-entity sequence (0 when none). */
  readonly seq: number;
  readonly deleted: boolean;
}

/**
 * How a replica applies an op: the whole row as it was after the change on the source copy (so a
 * replica converges even if ops reach it out of order), or nothing when the source superseded it.
 */
export interface ReplicaChange {
  /** The row after the change on the source (database columns); null after a delete. */
  readonly row: DbValues | null;
  /** The source journaled the op as superseded: journal it, change nothing. */
  readonly superseded: boolean;
}

/**
 * One op for {@link SiteStore.applyBatch}: the op, its epoch, and the whole row to install (a
 * replicated op's row from its source; a create's own values on a primary).
 */
export interface BatchItem {
  readonly op: WriteOp;
  readonly epoch: number;
  readonly change?: ReplicaChange | undefined;
  /**
   * A replicated op: journaled with its source's outcome even when a later op of its entity got
   * here first (the row is then left as that one made it).
   */
  readonly replica?: boolean;
}

/** A row of the op journal. */
export interface JournalEntry {
  readonly opId: string;
  readonly region: Region;
  readonly entity: EntityName;
  readonly key: string;
  readonly action: WriteOp['action'];
  readonly seq: number;
  readonly epoch: number;
  readonly outcome: ApplyOutcome;
  readonly error: string | null;
  /** ISO instants. */
  readonly acceptedAt: string;
  readonly appliedAt: string;
  readonly payload: WriteOp;
}

/** Filter and keyset page of a list read. */
export interface ListQuery {
  /** Only rows of this region (always set on the backup site, which holds every region). */
  readonly region?: Region;
  /** Parent filter: `{ field: 'branchId', value: 'P01' }`. */
  readonly parent?: { readonly column: string; readonly value: string };
  /** Keyset cursor: rows with id strictly greater. */
  readonly afterId?: string;
  /** Max rows, 1..1000. */
  readonly limit: number;
}

/** Row count and content checksum of one table's rows of one region on one site. */
export interface TableDigest {
  readonly count: number;
  /** md5 over the rows' canonical text in id order; equal iff the contents are equal. */
  readonly checksum: string;
}

/** Consumption of one region's meter readings on one site: count and sum (kWh, 3 decimals). */
export interface ConsumptionSummary {
  readonly region: Region;
  readonly readings: number;
  readonly kwh: string;
}

/** What running a recovery script did: statements run and rows they changed. */
export interface ScriptResult {
  /** Statements executed (all of them, or none: one transaction). */
  readonly statements: number;
  /** Rows the statements inserted, updated or deleted (0 when the script changed nothing). */
  readonly rowsChanged: number;
}

/**
 * The small interface every site's data access goes through. Routes and workers never hold SQL:
 * one implementation per dialect (`src/db/postgres`, `src/db/mssql`) generates it from the entity
 * definitions. Every call has a timeout (connect and statement), so a hung site fails the call
 * instead of blocking it.
 */
export interface SiteStore {
  readonly site: SiteId;
  readonly dialect: 'postgres' | 'mssql';
  /** Round trip to the site, failing after `timeoutMs`. @throws on any failure */
  ping(timeoutMs: number): Promise<void>;
  /** Applies pending schema migrations; returns the versions applied now. */
  migrate(): Promise<string[]>;
  /**
   * Applies one op in one transaction with its journal row: a known op id is a no-op
   * (`duplicate`), a sequence not above the entity's is `superseded`.
   * @throws EssError `parent_missing` (the parent row is not on this site), `row_missing`
   *   (update of a row not here), `has_children` (delete of a row still referenced)
   */
  applyOp(op: WriteOp, epoch: number, replica?: ReplicaChange): Promise<ApplyResult>;
  /**
   * Applies ops with whole rows in order, as {@link applyOp} would one by one with the same
   * `change` (results in the same order), in as few transactions as the store can (PostgreSQL: one
   * round trip, one transaction). Used by the group commit of replicate jobs and of creates.
   * @throws the first failing item's error, mapped as {@link applyOp} maps it (PostgreSQL: nothing
   *   of the batch is kept; SQL Server: items before it are)
   */
  applyBatch(items: readonly BatchItem[]): Promise<ApplyResult[]>;
  /** Journals an op that can never apply (outcome `failed`), so its status outlives the job. */
  recordFailure(op: WriteOp, epoch: number, reason: string): Promise<void>;
  /** One row by id, or null. */
  getById(entity: EntityName, id: string, region?: Region): Promise<Row | null>;
  /** Rows in id order after the cursor. */
  list(entity: EntityName, query: ListQuery): Promise<Row[]>;
  /** Journal rows for these op ids (those this site has). */
  journalEntries(opIds: readonly string[]): Promise<JournalEntry[]>;
  /** Number of journal rows, per region. */
  journalCount(region?: Region): Promise<number>;
  /** Row count and checksum of a table's rows of a region (or all rows for reference tables). */
  tableDigest(table: string, region?: Region): Promise<TableDigest>;
  /** Per-row md5 of a table's rows of a region: id → md5 (to name the rows that differ). */
  rowDigests(table: string, region?: Region): Promise<Map<string, string>>;
  /** Every (id, branch) of an entity of a region: rebuilds the Redis catalog. */
  placements(entity: EntityName, region: Region): Promise<Array<{ id: string; branchId: string }>>;
  /** Meter readings and their kWh sum per region, for the regions given. */
  consumption(regions: readonly Region[]): Promise<ConsumptionSummary[]>;
  /** Deletes journal rows older than `days` days; returns how many. */
  purgeJournal(days: number): Promise<number>;
  /**
   * Runs a recovery script's statements in order in one transaction (all or nothing). Only for
   * statements rendered by `src/recovery/sql-render.ts` from verified items.
   * @throws the first statement's error, after rolling back; `site_unavailable` when unreachable
   */
  executeScript(statements: readonly string[]): Promise<ScriptResult>;
  /** Op ids in this site's journal for a region: what a resync compares. */
  journalOpIds(region: Region): Promise<Set<string>>;
  /** Current row and version of each (entity, key) on this site (row null when absent). */
  entityStates(keys: ReadonlyArray<{ entity: EntityName; key: string }>): Promise<EntityState[]>;
  /**
   * Resync: records the journal entries and installs the entity states in one transaction; a
   * state changes a row only when its seq is above the row's version here.
   * @returns how many rows were changed
   */
  installStates(entries: readonly JournalEntry[], states: readonly EntityState[]): Promise<number>;
  close(): Promise<void>;
}
