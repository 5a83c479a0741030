/**
 * The `recovery` job: its payload turned into a {@link runRecovery} call, progress reported to
 * BullMQ (a percentage, and one job log line per phase, both shown by Bull Board).
 */
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { RecoveryJobSchema, type JobPayload } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import type { Config } from '../config/config.js';
import type { SiteStores } from '../db/site-stores.js';
import type { RecoveryReport } from './recovery-report.js';
import { RecoveryError, runRecovery, type RecoveryProgress } from './run-recovery.js';

/** What a `recovery` job returns (kept with the completed job). */
export interface RecoveryJobResult {
  readonly scriptPath: string;
  readonly reportPath: string;
  readonly statements: number;
  readonly counts: RecoveryReport['counts'];
  readonly apply: RecoveryReport['apply'] | null;
  readonly verify: RecoveryReport['verify'] | null;
}

/** What the processor needs. */
export interface RecoveryJobDeps {
  readonly config: Pick<Config, 'timeZone' | 'logDir' | 'ollama' | 'loki'>;
  /** Needed for payloads with `apply`. */
  readonly stores?: SiteStores | undefined;
  readonly queues?: QueueSet | undefined;
}

/** Runs a recovery for a payload; `onProgress` gets every phase. */
export async function runRecoveryPayload(
  payload: JobPayload<'recovery'>,
  deps: RecoveryJobDeps,
  onProgress?: (p: RecoveryProgress) => void | Promise<void>,
): Promise<RecoveryJobResult> {
  const { report } = await runRecovery(
    {
      site: payload.site,
      since: new Date(payload.since),
      until: payload.until ? new Date(payload.until) : undefined,
      source: payload.source,
      logDir: payload.logDir ?? deps.config.logDir,
      timeZone: deps.config.timeZone,
      ai: payload.ai,
      apply: payload.apply,
      out: payload.out,
      dialect: payload.dialect,
      model: deps.config.ollama,
      loki: deps.config.loki,
    },
    { stores: deps.stores, queues: deps.queues, onProgress },
  );
  return {
    scriptPath: report.scriptPath,
    reportPath: report.reportPath,
    statements: report.statements,
    counts: report.counts,
    apply: report.apply ?? null,
    verify: report.verify ?? null,
  };
}

/**
 * The BullMQ processor of `recovery` jobs.
 * @throws UnrecoverableError for an invalid payload or a run that cannot start (retrying would not help)
 */
export async function processRecoveryJob(job: Job, deps: RecoveryJobDeps): Promise<RecoveryJobResult> {
  const parsed = RecoveryJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid recovery payload: ${parsed.error.message}`);
  try {
    return await runRecoveryPayload(parsed.data, deps, async (p) => {
      await job.updateProgress(p.percent);
      await job.log(`${p.phase}: ${p.message}`);
    });
  } catch (err) {
    if (err instanceof RecoveryError) throw new UnrecoverableError(err.message);
    throw err;
  }
}
