import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { allQueueNames, backoffDelayMs, ReplicateJobSchema } from '../queues/catalog.js';
import { WriteOpSchema, type WriteOp } from '../src/domain/write-op.js';
import type { Logger } from '../src/logging/logger.js';
import { applyWrite, replicateBatch, type ApplyDeps } from '../src/write/apply-op.js';
import { warnThrottled } from '../src/logging/throttled-warn.js';

/**
 * Replicate jobs one worker process runs at once per region: they are group-committed on the copy
 * (see `GroupCommitter`), so more jobs in flight means bigger transactions, not more of them.
 */
export const REPLICATE_CONCURRENCY = 16;

/** The deps of one job: its logger names the queue, job and attempt, built only if a warning is written. */
function jobDeps(deps: ApplyDeps, queue: string, job: Job): ApplyDeps {
  let logger: ApplyDeps['logger'] | undefined;
  return {
    ...deps,
    get logger() {
      return (logger ??= deps.logger.child({ queue, jobId: job.id, attempt: job.attemptsMade }));
    },
  };
}

/** Options of the apply and replicate workers. */
export interface WriteWorkerOptions {
  readonly redisUrl: string;
  readonly partitions: number;
  /** Lock of an active job, ms; a killed worker's job returns to its queue after about this long. @defaultValue 10000 */
  readonly lockDurationMs?: number;
}

function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error } }, job: Job): T {
  const r = schema.safeParse(job.data);
  if (!r.success) throw new UnrecoverableError(`invalid ${job.name} payload: ${r.error.message}`);
  return r.data;
}

/**
 * Starts one worker per apply partition queue, concurrency 1 (per-partition FIFO keeps each
 * entity's ops in acceptance order while partitions run in parallel), and one per region's
 * replicate queue, concurrency {@link REPLICATE_CONCURRENCY} (a copy needs no order: it installs
 * whole rows under the per-entity sequence gate).
 */
export function startWriteWorkers(deps: ApplyDeps, options: WriteWorkerOptions): Worker[] {
  const common = {
    connection: { url: options.redisUrl, maxRetriesPerRequest: null, connectionName: 'ess-worker' },
    prefix: deps.prefix,
    concurrency: 1,
    lockDuration: options.lockDurationMs ?? 10_000,
    stalledInterval: 5_000,
    // A worker killed mid-job must never turn an accepted write into a failed one.
    maxStalledCount: 1_000_000,
    settings: { backoffStrategy: (attemptsMade: number) => backoffDelayMs(attemptsMade) },
  };
  const workers: Worker[] = [];
  const onFailed = (kind: string) => (job: Job | undefined, err: Error) =>
    deps.logger[err instanceof UnrecoverableError || job?.attemptsMade === job?.opts.attempts ? 'error' : 'warn'](
      { err, queue: job?.queueName, jobId: job?.id, attempt: job?.attemptsMade },
      `${kind}.job_failed`,
    );
  for (const name of allQueueNames('apply', options.partitions)) {
    const w = new Worker(name, async (job: Job) => {
      await applyWrite(jobDeps(deps, name, job), parse(WriteOpSchema, job) as WriteOp);
    }, common);
    w.on('failed', onFailed('apply'));
    w.on('error', (err) => warnThrottled(deps.logger, { err, queue: name }, 'worker.error'));
    workers.push(w);
  }
  for (const name of allQueueNames('replicate', options.partitions)) {
    const w = new Worker(name, async (job: Job) => {
      await replicateBatch(jobDeps(deps, name, job), parse(ReplicateJobSchema, job));
    }, { ...common, concurrency: REPLICATE_CONCURRENCY });
    w.on('failed', onFailed('replicate'));
    w.on('error', (err) => warnThrottled(deps.logger, { err, queue: name }, 'worker.error'));
    workers.push(w);
  }
  return workers;
}

