/**
 * The control plane's workers: the probe (one BullMQ job scheduler per deployment, every
 * `PROBE_INTERVAL_MS`) and the resync / failback. Thin: parse, call `src/routing`, report.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { JOB_OPTIONS, PROBE_QUEUE, PROBE_SCHEDULER_ID, RESYNC_QUEUE, ResyncJobSchema } from '../queues/catalog.js';
import type { Config } from '../src/config/config.js';
import { probeAndFailover, type FailoverDeps } from '../src/routing/failover.js';
import { resyncRegion, type ResyncDeps } from '../src/routing/resync.js';
import { warnThrottled } from '../src/logging/throttled-warn.js';

/** The control-plane workers and their queues. */
export interface ControlWorkers {
  readonly workers: Worker[];
  readonly probeQueue: Queue;
  readonly resyncQueue: Queue;
  close(): Promise<void>;
}

/**
 * Upserts the probe job scheduler (idempotent: however many worker processes start, there is one
 * scheduler, id `probe-sites`) and starts the probe and resync workers.
 */
export async function startControlWorkers(
  deps: Omit<FailoverDeps, 'resyncQueue' | 'probe'> & ResyncDeps,
  config: Pick<Config, 'redisUrl' | 'prefix' | 'probe'>,
): Promise<ControlWorkers> {
  const connection = { url: config.redisUrl, maxRetriesPerRequest: null, connectionName: 'ess-control' };
  const probeQueue = new Queue(PROBE_QUEUE, { connection, prefix: config.prefix });
  const resyncQueue = new Queue(RESYNC_QUEUE, { connection, prefix: config.prefix, defaultJobOptions: JOB_OPTIONS.resync });
  await probeQueue.upsertJobScheduler(PROBE_SCHEDULER_ID, { every: config.probe.intervalMs }, { name: 'probe', data: {}, opts: JOB_OPTIONS.probe });
  const failoverDeps: FailoverDeps = { ...deps, resyncQueue, probe: config.probe };
  const probeWorker = new Worker(
    PROBE_QUEUE,
    async () => {
      const round = await probeAndFailover(failoverDeps);
      return { changes: round.changes.length, resyncs: round.resyncs };
    },
    { connection, prefix: config.prefix, concurrency: 1, lockDuration: 10_000, stalledInterval: 5_000 },
  );
  const resyncWorker = new Worker(
    RESYNC_QUEUE,
    async (job: Job) => {
      const parsed = ResyncJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid resync payload: ${parsed.error.message}`);
      const result = await resyncRegion(deps, parsed.data.region);
      await job.updateProgress(100);
      return result;
    },
    { connection, prefix: config.prefix, concurrency: 3, lockDuration: 30_000, stalledInterval: 10_000 },
  );
  for (const w of [probeWorker, resyncWorker]) {
    w.on('error', (err) => warnThrottled(deps.logger, { err, queue: w.name }, 'worker.error'));
    w.on('failed', (job, err) => deps.logger.error({ err, queue: w.name, jobId: job?.id }, 'control.job_failed'));
  }
  return {
    workers: [probeWorker, resyncWorker],
    probeQueue,
    resyncQueue,
    async close() {
      await Promise.all([probeWorker.close(), resyncWorker.close()]);
      await Promise.all([probeQueue.close(), resyncQueue.close()]);
    },
  };
}
