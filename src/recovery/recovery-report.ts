/**
 * The JSON report of a recovery run: what was read, what became of every entry and why, what was
 * written and, with `--apply`, what the site and `verify` said.
 */
import type { SiteId } from '../domain/fragmentation.js';
import type { VerifyReport } from '../verify/verify.js';
import type { Dialect } from './sql-render.js';

/**
 * What became of one log entry:
 * - `converted`: rendered by a deterministic rule (an op log line, or an original entry whose fields map);
 * - `converted-by-model`: the local model's item passed every check and was rendered;
 * - `needs-review`: no verified change (the model failed, was off, or its item failed a check);
 * - `refused`: about things not in the schema, or no key: not sent to the model;
 * - `ignored`: not a change (info lines, duplicates, superseded re-deliveries, other regions);
 * - `unparseable`: not a log line that can be read.
 */
export type EntryStatus = 'converted' | 'converted-by-model' | 'needs-review' | 'refused' | 'ignored' | 'unparseable';

/** All statuses, in report order. */
export const ENTRY_STATUSES: readonly EntryStatus[] = ['converted', 'converted-by-model', 'needs-review', 'refused', 'ignored', 'unparseable'];

/** One entry's line in the report. */
export interface EntryReport {
  /** 1-based position in log order. */
  readonly n: number;
  /** `TP2-2025-11-27.log:1` or `loki:<ns>`. */
  readonly origin: string;
  /** ISO instant of the entry, or null. */
  readonly time: string | null;
  /** `op-log` (this system's `write.applied`/`replica.applied`), `original` (winston), `other`. */
  readonly format: 'op-log' | 'original' | 'other';
  status: EntryStatus;
  reason: string;
  /** Op id of an op log line. */
  readonly opId?: string;
  /** 1-based number of the entry's statement in the script. */
  statement?: number;
  /** The change rendered, in short: `upsert branch CN9`. */
  change?: string;
}

/** The report of a recovery run (format version 1). */
export interface RecoveryReport {
  readonly version: 1;
  readonly runId: string;
  readonly site: SiteId;
  readonly regions: readonly string[];
  readonly dialect: Dialect;
  /** ISO instants; `since` inclusive, `until` exclusive. */
  readonly since: string;
  readonly until: string | null;
  readonly timeZone: string;
  readonly source: 'files' | 'loki';
  /** Files or Loki queries read. */
  readonly read: readonly string[];
  readonly outOfRange: number;
  readonly model: { readonly used: boolean; readonly url: string; readonly model: string; readonly chunks: number; readonly note: string | null };
  /** Entries per status. */
  readonly counts: Record<EntryStatus, number>;
  /** Statements in the script (one per converted entry). */
  readonly statements: number;
  readonly scriptPath: string;
  readonly reportPath: string;
  readonly generatedAt: string;
  /** With `--apply`: statements executed in one transaction and rows they changed, or the error. */
  apply?: { readonly statementsApplied: number; readonly rowsChanged: number; readonly ms: number } | { readonly error: string };
  /** With `--apply`: `verify` of the site's regions against their other copy. */
  verify?: Pick<VerifyReport, 'result' | 'problems'> & { readonly differing: Array<{ region: string; table: string; rows: string[] }> };
  readonly entries: EntryReport[];
}
