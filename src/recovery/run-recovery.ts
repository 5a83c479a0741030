/**
 * A recovery run (DESIGN.md section 5): read the log entries of a site's regions from `since`,
 * convert what rules convert, ask the local model for the rest (verifying every item), render one
 * idempotent script in log order plus a JSON report, and with `apply` run it on the site in one
 * transaction and `verify` the site against its replica.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { QueueSet } from '../../queues/queue-set.js';
import { regionsOnSite, type SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import { verifyCluster } from '../verify/verify.js';
import type { Change, ChangeItem } from './change.js';
import { classifyEntry, type Classified } from './classify-entry.js';
import { readLogFiles, readLoki, type LogEntry, type LogReadResult } from './log-source.js';
import { verifyModelAnswer, type ModelEntry } from './model-items.js';
import { OllamaTranslator, type ModelOptions } from './ollama-translator.js';
import { ENTRY_STATUSES, type EntryReport, type EntryStatus, type RecoveryReport } from './recovery-report.js';
import { RenderError, renderChange, renderScript, type Dialect, type RenderedStatement } from './sql-render.js';

/** Options of {@link runRecovery}. */
export interface RecoveryOptions {
  readonly site: SiteId;
  readonly since: Date;
  readonly until?: Date | undefined;
  readonly source: 'files' | 'loki';
  /** Folder of the daily log files (source `files`). */
  readonly logDir: string;
  /** The utility's time zone (file dates). */
  readonly timeZone: string;
  /** Ask the model for entries no rule converts. */
  readonly ai: boolean;
  /** Run the script on the site, then verify. Needs `deps.stores`. */
  readonly apply: boolean;
  /** Folder of the script and the report. */
  readonly out: string;
  readonly dialect: Dialect;
  readonly model: ModelOptions;
  /** Entries per model request. @defaultValue 8 */
  readonly chunkSize?: number;
  /** Loki (source `loki`). */
  readonly loki?: { url: string; user?: string | undefined; password?: string | undefined; query?: string | undefined } | undefined;
  /** Names the output files. @defaultValue a timestamp and random suffix */
  readonly runId?: string;
}

/** Progress of a run: the phase and a percentage (0..100). */
export interface RecoveryProgress {
  readonly phase: 'reading' | 'converting' | 'model' | 'writing' | 'applying' | 'verifying' | 'done';
  readonly percent: number;
  readonly message: string;
}

/** What a run needs beyond its options. */
export interface RecoveryDeps {
  /** Site stores; required with `apply`. */
  readonly stores?: SiteStores | undefined;
  /** Queues, so `verify` waits for replication to drain. */
  readonly queues?: QueueSet | undefined;
  readonly onProgress?: (p: RecoveryProgress) => void | Promise<void>;
}

/** The statements of a run, next to its report (for applying without re-reading the file). */
export interface RecoveryResult {
  readonly report: RecoveryReport;
  readonly statements: readonly RenderedStatement[];
}

/** Raised for a run that cannot start (bad options, an unreadable source). */
export class RecoveryError extends Error {
  readonly code = 'recovery_failed';
}

function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

function describeItem(item: ChangeItem): string {
  return `${item.action === 'insert' ? 'upsert' : item.action} ${item.table} ${item.key}`;
}

/**
 * Runs a recovery. Expected partial failure (an entry the model could not convert, a chunk that
 * timed out) is in the report, not thrown.
 * @throws RecoveryError when the source cannot be read, or `apply` lacks a store of the dialect
 */
export async function runRecovery(options: RecoveryOptions, deps: RecoveryDeps = {}): Promise<RecoveryResult> {
  const progress = async (phase: RecoveryProgress['phase'], percent: number, message: string) => {
    await deps.onProgress?.({ phase, percent: Math.max(0, Math.min(100, Math.round(percent))), message });
  };
  const store = options.apply ? deps.stores?.[options.site] : undefined;
  if (options.apply && !store) throw new RecoveryError(`--apply needs the site stores (site ${options.site})`);
  if (store && store.dialect !== options.dialect) {
    throw new RecoveryError(`site ${options.site} is ${store.dialect}; a ${options.dialect} script cannot be applied to it`);
  }
  const regions = regionsOnSite(options.site);
  const range = { since: options.since, until: options.until };
  const runId = options.runId ?? newRunId();

  await progress('reading', 0, `reading ${options.source === 'loki' ? 'Loki' : options.logDir} for ${regions.join(', ')} from ${options.since.toISOString()}`);
  let read: LogReadResult;
  try {
    if (options.source === 'loki') {
      if (!options.loki) throw new Error('source loki needs LOKI_URL');
      read = await readLoki({ url: options.loki.url, user: options.loki.user, password: options.loki.password, query: options.loki.query, regions, range });
    } else {
      read = await readLogFiles({ dir: options.logDir, regions, range, timeZone: options.timeZone });
    }
  } catch (err) {
    throw new RecoveryError(`cannot read the logs: ${(err as Error).message}`, { cause: err });
  }

  await progress('converting', 10, `${read.entries.length} entries read`);
  const reports: EntryReport[] = [];
  const changes = new Map<number, Change>();
  const forModel: Array<{ n: number; c: Extract<Classified, { status: 'model' }> }> = [];
  const seenOps = new Map<string, number>();
  const seenLines = new Map<string, number>();
  read.entries.forEach((e: LogEntry, i) => {
    const n = i + 1;
    const c = classifyEntry(e, regions);
    const base = { n, origin: e.origin, time: e.time ? e.time.toISOString() : null, format: c.format };
    if (c.status === 'op') {
      const first = seenOps.get(c.line.opId);
      if (first !== undefined) {
        reports.push({ ...base, status: 'ignored', reason: `duplicate of entry ${first} (same op id)`, opId: c.line.opId });
        return;
      }
      seenOps.set(c.line.opId, n);
      reports.push({ ...base, status: 'converted', reason: c.reason, opId: c.line.opId });
      changes.set(n, { kind: 'op', line: c.line });
      return;
    }
    if (c.format === 'original' && (c.status === 'converted' || c.status === 'model')) {
      // The same line twice (same instant, same fields) is one event written twice.
      const first = seenLines.get(e.raw);
      if (first !== undefined) {
        reports.push({ ...base, status: 'ignored', reason: `duplicate of entry ${first} (identical line)` });
        return;
      }
      seenLines.set(e.raw, n);
    }
    if (c.status === 'converted') {
      reports.push({ ...base, status: 'converted', reason: c.reason });
      changes.set(n, { kind: 'item', item: c.item });
    } else if (c.status === 'model') {
      reports.push({ ...base, status: 'needs-review', reason: c.reason });
      forModel.push({ n, c });
    } else {
      reports.push({ ...base, status: c.status, reason: c.reason, ...('opId' in c && c.opId ? { opId: c.opId } : {}) });
    }
  });

  // The model, for what no rule converts.
  let modelNote: string | null = null;
  let chunks = 0;
  if (forModel.length > 0) {
    if (!options.ai) {
      modelNote = 'the model is off (--no-ai)';
      for (const f of forModel) reports[f.n - 1]!.reason = `needs the model, which is off (--no-ai): ${f.c.reason}`;
    } else {
      const translator = new OllamaTranslator(options.model);
      const up = await translator.available();
      if (!up.ok) {
        modelNote = up.reason;
        for (const f of forModel) reports[f.n - 1]!.reason = `needs the model: ${up.reason}; ${f.c.reason}`;
      } else {
        const size = Math.max(1, options.chunkSize ?? 8);
        for (let at = 0; at < forModel.length; at += size) {
          const part = forModel.slice(at, at + size);
          const chunk: ModelEntry[] = part.map((f, i) => ({ n: i + 1, entry: f.c.entry, action: f.c.action }));
          chunks++;
          await progress('model', 20 + (60 * at) / forModel.length, `model chunk ${chunks}: ${chunk.length} entries`);
          const reply = await translator.ask(chunk);
          if (!reply.ok) {
            for (const f of part) reports[f.n - 1]!.reason = reply.reason;
            continue;
          }
          const verdicts = verifyModelAnswer(chunk, reply.content);
          part.forEach((f, i) => {
            const v = verdicts.get(i + 1)!;
            const r = reports[f.n - 1]!;
            if (v.ok) {
              r.status = 'converted-by-model';
              r.reason = `model item verified (${options.model.model})`;
              changes.set(f.n, { kind: 'item', item: v.item });
            } else {
              r.reason = `model item rejected: ${v.reason}`;
            }
          });
        }
      }
    }
  }

  // Render in log order.
  await progress('writing', 80, 'rendering the script');
  const statements: RenderedStatement[] = [];
  for (const r of reports) {
    const change = changes.get(r.n);
    if (!change) continue;
    try {
      const sql = renderChange(change, options.dialect);
      statements.push({ comment: `[${statements.length + 1}] entry ${r.n} ${r.origin} ${r.time ?? ''} ${r.opId ?? ''}`.replace(/\s+/g, ' ').trim(), sql });
      r.statement = statements.length;
      r.change =
        change.kind === 'op'
          ? `${change.line.outcome === 'superseded' ? 'journal' : change.line.action === 'delete' ? 'delete' : 'upsert'} ${change.line.table} ${change.line.key} (seq ${change.line.seq})`
          : describeItem(change.item);
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      r.status = 'needs-review';
      r.reason = `cannot be rendered: ${err.message}`;
    }
  }

  await mkdir(options.out, { recursive: true });
  const base = path.join(path.resolve(options.out), `recovery-${options.site}-${runId}`);
  const scriptPath = `${base}.sql`;
  const reportPath = `${base}.report.json`;
  const generatedAt = new Date().toISOString();
  await writeFile(
    scriptPath,
    renderScript(statements, options.dialect, { site: options.site, since: options.since.toISOString(), until: options.until?.toISOString(), generatedAt }),
  );
  const counts = Object.fromEntries(ENTRY_STATUSES.map((s) => [s, 0])) as Record<EntryStatus, number>;
  for (const r of reports) counts[r.status]++;
  const report: RecoveryReport = {
    version: 1,
    runId,
    site: options.site,
    regions,
    dialect: options.dialect,
    since: options.since.toISOString(),
    until: options.until?.toISOString() ?? null,
    timeZone: options.timeZone,
    source: options.source,
    read: read.sources,
    outOfRange: read.outOfRange,
    model: { used: chunks > 0, url: options.model.url, model: options.model.model, chunks, note: modelNote },
    counts,
    statements: statements.length,
    scriptPath,
    reportPath,
    generatedAt,
    entries: reports,
  };
  const saveReport = () => writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  await saveReport();

  if (store && deps.stores) {
    await progress('applying', 85, `applying ${statements.length} statements to ${options.site}`);
    const started = Date.now();
    try {
      const res = await store.executeScript(statements.map((s) => s.sql));
      report.apply = { statementsApplied: res.statements, rowsChanged: res.rowsChanged, ms: Date.now() - started };
    } catch (err) {
      report.apply = { error: `the script was rolled back: ${(err as Error).message}` };
    }
    if (!('error' in report.apply)) {
      await progress('verifying', 92, `verify ${regions.join(', ')}`);
      const v = await verifyCluster(deps.stores, deps.queues, { regions, drainTimeoutMs: 30_000 });
      report.verify = {
        result: v.result,
        problems: v.problems,
        differing: v.tables.filter((t) => !t.equal).map((t) => ({ region: t.region, table: t.table, rows: t.differingRows.map((d) => d.id) })),
      };
    }
    await saveReport();
  }
  await progress('done', 100, `${statements.length} statements; report ${reportPath}`);
  return { report, statements };
}
