/**
 * The worker process: apply and replicate workers for every region's partitions, the op journal
 * purge, and a heartbeat. `startWorkerProcess` is used in-process by tests; run this file to work.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'bullmq';
import { assertNoEviction, createRedis, waitReady } from '../queues/connection.js';
import { QueueSet } from '../queues/queue-set.js';
import { loadConfigOrExit, type Config } from '../src/config/config.js';
import { SITES } from '../src/domain/fragmentation.js';
import { closeSiteStores, openSiteStores } from '../src/db/site-stores.js';
import { createLogger, type Logger } from '../src/logging/logger.js';
import { OpLog } from '../src/logging/op-log.js';
import { RoutingTableStore } from '../src/routing/routing-table.js';
import { GroupCommitter } from '../src/write/group-commit.js';
import { ReplicationBatcher } from '../src/write/replication-batcher.js';
import { startControlWorkers } from './control-workers.js';
import { startHeartbeat } from './heartbeat.js';
import { startRecoveryWorker } from './recovery-worker.js';
import { startWriteWorkers } from './write-workers.js';
import { warnThrottled } from '../src/logging/throttled-warn.js';

/** A running worker process's parts. */
export interface WorkerProcess {
  readonly id: string;
  readonly workers: Worker[];
  /** Stops taking jobs, waits for active ones, then closes connections and the op log. */
  close(): Promise<void>;
}

/** Starts the workers of this process. */
export async function startWorkerProcess(config: Config, logger: Logger, options: { lockDurationMs?: number } = {}): Promise<WorkerProcess> {
  const id = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const redis = createRedis(config, 'worker');
  redis.on('error', (err) => warnThrottled(logger, { err: { message: err.message } }, 'redis.error'));
  await waitReady(redis, 30_000);
  if (config.checkRedisPolicy) await assertNoEviction(redis);
  const stores = openSiteStores(config, logger);
  const routing = new RoutingTableStore(redis, config.prefix);
  await routing.ensure();
  // The apply workers take the route read last; a route change drops it (see RoutingTableStore.recent).
  const routeWatch = createRedis(config, 'worker');
  routeWatch.on('error', (err) => warnThrottled(logger, { err: { message: err.message } }, 'redis.error'));
  await routing.watch(routeWatch);
  const queues = new QueueSet(redis, config.prefix, config.partitions);
  // One job at a time per apply partition across every worker process (BullMQ global
  // concurrency), so scaled-out workers keep each entity's ops in acceptance order. Replicate jobs
  // need no order (a copy installs whole rows under the per-entity sequence gate): no limit.
  await Promise.all([...queues.apply.values()].map((q) => q.setGlobalConcurrency(1)));
  await Promise.all([...queues.replicate.values()].map((q) => q.removeGlobalConcurrency()));
  const opLog = new OpLog({ dir: config.logDir, timeZone: config.timeZone, loki: config.loki });
  let stopping = false;
  const workers = startWriteWorkers(
    { redis, prefix: config.prefix, stores, routing, queues, replication: new ReplicationBatcher(queues), groupCommit: new GroupCommitter(stores), opLog, logger, stopping: () => stopping },
    { redisUrl: config.redisUrl, partitions: config.partitions, lockDurationMs: options.lockDurationMs },
  );
  workers.push(startRecoveryWorker({ config, stores, queues, logger }, { redisUrl: config.redisUrl, prefix: config.prefix }));
  const control = await startControlWorkers({ redis, prefix: config.prefix, stores, routing, queues, logger }, config);
  workers.push(...control.workers);
  const stopHeartbeat = startHeartbeat(redis, config.prefix, id);
  // Op journal retention (JOURNAL_RETENTION_DAYS): purge hourly.
  const purge = setInterval(() => {
    for (const site of SITES) {
      stores[site].purgeJournal(config.journalRetentionDays).then(
        (n) => n > 0 && logger.info({ site, purged: n }, 'journal.purged'),
        (err) => logger.warn({ err, site }, 'journal.purge_failed'),
      );
    }
  }, 3600_000);
  purge.unref();
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ id, queues: workers.length }, 'workers.started');
  return {
    id,
    workers,
    async close() {
      stopping = true;
      clearInterval(purge);
      await Promise.all(workers.map((w) => w.close()));
      await control.close();
      await stopHeartbeat();
      await queues.close();
      await opLog.close();
      await closeSiteStores(stores);
      await routeWatch.quit().catch(() => undefined);
      await redis.quit().catch(() => undefined);
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'workers' });
  const proc = await startWorkerProcess(config, logger);
  const stop = async (signal: string) => {
    logger.info({ signal }, 'workers.stopping');
    await proc.close();
    logger.flush();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`workers failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
