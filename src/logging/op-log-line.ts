import type { Region, SiteId } from '../domain/fragmentation.js';
import type { WriteAction } from '../domain/write-op.js';
import type { EntityName } from '../domain/entities.js';
import type { DbValues } from '../db/row-codec.js';

/**
 * Version of the op log line format. Recovery reads these lines: a change of shape is a new
 * version, and readers keep reading the old ones. See `docs/log-format.md`.
 */
export const OP_LOG_VERSION = 1;

/** The event names of op log lines. */
export type OpLogEvent = 'write.applied' | 'replica.applied';

/**
 * One op log line (pino JSON, one per line): written once an op's transaction committed on a
 * site, before its job completes; written again if the job is retried (readers deduplicate by
 * `opId` and `site`).
 */
export interface OpLogLine {
  /** pino level number (30 = info). */
  readonly level: number;
  /** ISO 8601 instant (UTC) the line was written. */
  readonly time: string;
  /** `write.applied` on the site serving the region, `replica.applied` on the other copy. */
  readonly msg: OpLogEvent;
  readonly v: typeof OP_LOG_VERSION;
  readonly opId: string;
  readonly region: Region;
  readonly site: SiteId;
  readonly epoch: number;
  readonly entity: EntityName;
  readonly table: string;
  readonly key: string;
  readonly action: WriteAction;
  readonly seq: number;
  /** `applied` changed the row; `superseded` changed nothing (a higher seq was there). */
  readonly outcome: 'applied' | 'superseded';
  /** The row after the change, database column names; null after a delete or when superseded. */
  readonly row: DbValues | null;
  /** The op's column values as accepted (update: only the changed columns). */
  readonly values: DbValues;
  /** ISO instant the gateway accepted the op. */
  readonly acceptedAt: string;
}
