import { Worker, type Job } from 'bullmq';
import { RECOVERY_QUEUE } from '../queues/catalog.js';
import type { Logger } from '../src/logging/logger.js';
import { processRecoveryJob, type RecoveryJobDeps, type RecoveryJobResult } from '../src/recovery/recovery-job.js';
import { warnThrottled } from '../src/logging/throttled-warn.js';

/** Options of the recovery worker. */
export interface RecoveryWorkerOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  /** Lock of the active job, ms; a recovery can run long, the lock is renewed meanwhile. @defaultValue 30000 */
  readonly lockDurationMs?: number;
}

/**
 * Starts the worker of the `recovery` queue (concurrency 1: one recovery at a time per process).
 * Thin: the work is {@link processRecoveryJob}.
 */
export function startRecoveryWorker(deps: RecoveryJobDeps & { logger: Logger }, options: RecoveryWorkerOptions): Worker<unknown, RecoveryJobResult> {
  const worker = new Worker<unknown, RecoveryJobResult>(
    RECOVERY_QUEUE,
    async (job: Job) => {
      const logger = deps.logger.child({ queue: RECOVERY_QUEUE, jobId: job.id, attempt: job.attemptsMade });
      logger.info({ site: (job.data as { site?: string }).site }, 'recovery.started');
      const result = await processRecoveryJob(job, deps);
      logger.info({ statements: result.statements, counts: result.counts, script: result.scriptPath }, 'recovery.finished');
      return result;
    },
    {
      connection: { url: options.redisUrl, maxRetriesPerRequest: null, connectionName: 'ess-recovery' },
      prefix: options.prefix,
      concurrency: 1,
      lockDuration: options.lockDurationMs ?? 30_000,
    },
  );
  worker.on('failed', (job, err) => deps.logger.error({ err, queue: RECOVERY_QUEUE, jobId: job?.id }, 'recovery.job_failed'));
  worker.on('error', (err) => warnThrottled(deps.logger, { err, queue: RECOVERY_QUEUE }, 'worker.error'));
  return worker;
}
