/**
 * `npm run recover -- <site> [<date> [<time>]] [options]`: brings a site restored from an outdated
 * backup forward from the logs (DESIGN.md section 5). The original tool's syntax works:
 * `npm run recover -- TP1 2025-11-26 13:00:00` (a time without an offset is in TIME_ZONE).
 *
 * The site is a region (`TP1` = its primary site) or a site id (`db1`..`db4`). Without a date,
 * `--since` is the instant of the site's newest backup (`npm run backup`).
 *
 * Enqueues a `recovery` job, shows its progress until it ends and prints the script's and the
 * report's paths. When no worker takes the job within `--worker-wait-ms`, or Redis is not
 * reachable, this command runs the job itself. Without `--apply` no site is needed.
 *
 * Exit 0: done (with `--apply`: applied and verify equal); 1: applied but verify did not find the
 * copies equal, or the apply was rolled back; 2: bad arguments or the run failed.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Queue, type Worker } from 'bullmq';
import { JOB_OPTIONS, RECOVERY_QUEUE, RecoveryJobSchema, type JobPayload } from '../../queues/catalog.js';
import { createRedis, waitReady } from '../../queues/connection.js';
import { QueueSet } from '../../queues/queue-set.js';
import { loadConfigOrExit, type Config } from '../config/config.js';
import { closeSiteStores, openSiteStores, type SiteStores } from '../db/site-stores.js';
import { isRegion, isSite, PLACEMENT, type SiteId } from '../domain/fragmentation.js';
import { createLogger } from '../logging/logger.js';
import { latestBackup } from '../recovery/backup.js';
import { runRecoveryPayload, type RecoveryJobResult } from '../recovery/recovery-job.js';
import { parseInstant } from '../recovery/time-range.js';
import { startRecoveryWorker } from '../../workers/recovery-worker.js';

const USAGE = `usage: npm run recover -- <site: TP1..TP3 or db1..db4> [<date> [<time>]]
  [--since <instant>] [--until <instant>] [--source files|loki] [--log-dir <dir>]
  [--ai | --no-ai] [--apply] [--out <dir>] [--dialect postgres|mssql]
  [--backup-dir <dir>] [--worker-wait-ms 5000]`;

class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

/** Reads the arguments into a job payload. */
async function payloadFrom(argv: string[], config: Config): Promise<{ payload: JobPayload<'recovery'>; workerWaitMs: number }> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        source: { type: 'string', default: config.loki ? 'loki' : 'files' },
        'log-dir': { type: 'string' },
        ai: { type: 'boolean' },
        'no-ai': { type: 'boolean' },
        apply: { type: 'boolean', default: false },
        out: { type: 'string' },
        dialect: { type: 'string' },
        'backup-dir': { type: 'string' },
        'worker-wait-ms': { type: 'string', default: '5000' },
      },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const v = args.values;
  const [target, ...when] = args.positionals;
  if (!target) fail('give the site to recover');
  const site: SiteId = isSite(target) ? target : isRegion(target) ? PLACEMENT[target].primary : fail(`unknown site "${target}": expected TP1..TP3 or db1..db4`);
  if (when.length > 2) fail(`too many arguments: ${when.join(' ')}`);
  if (when.length && v.since) fail('give the start either as <date> <time> or as --since, not both');
  if (v.ai && v['no-ai']) fail('--ai and --no-ai contradict each other');
  let since: Date;
  try {
    if (when.length || v.since) since = parseInstant(when.length ? when.join(' ') : v.since!, config.timeZone);
    else {
      const dir = path.resolve(v['backup-dir'] ?? path.join(config.home, 'backups'));
      const b = await latestBackup(dir, site);
      if (!b) fail(`no start given and no backup of ${site} under ${dir}: give <date> <time> or --since`);
      since = new Date(b.instant);
      process.stdout.write(`recover: starting at the instant of backup ${b.file}: ${b.instant}\n`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    fail((err as Error).message);
  }
  const until = v.until ? parseInstant(v.until, config.timeZone) : undefined;
  if (until && until <= since) fail('--until must be after the start');
  if (v.source !== 'files' && v.source !== 'loki') fail(`--source must be files or loki, not "${v.source}"`);
  if (v.source === 'loki' && !config.loki) fail('--source loki needs LOKI_URL');
  const dialect = v.dialect ?? config.driver;
  if (dialect !== 'postgres' && dialect !== 'mssql') fail(`--dialect must be postgres or mssql, not "${dialect}"`);
  const workerWaitMs = Number(v['worker-wait-ms']);
  if (!Number.isInteger(workerWaitMs) || workerWaitMs < 0) fail('--worker-wait-ms must be a non-negative integer (ms)');
  const payload = RecoveryJobSchema.parse({
    site,
    since: since.toISOString(),
    until: until?.toISOString(),
    source: v.source,
    logDir: path.resolve(v['log-dir'] ?? config.logDir),
    ai: !v['no-ai'],
    apply: v.apply,
    out: path.resolve(v.out ?? path.join(config.home, 'recovery')),
    dialect,
  });
  return { payload, workerWaitMs };
}

function printResult(r: RecoveryJobResult): number {
  const counts = Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ');
  process.stdout.write(`recover: ${r.statements} statement(s); entries: ${counts}\n  script: ${r.scriptPath}\n  report: ${r.reportPath}\n`);
  if (r.apply) {
    if ('error' in r.apply) {
      process.stdout.write(`  apply:  FAILED, nothing changed: ${r.apply.error}\n`);
      return 1;
    }
    process.stdout.write(`  apply:  ${r.apply.statementsApplied} statement(s) applied, ${r.apply.rowsChanged} row(s) changed, ${r.apply.ms} ms\n`);
    process.stdout.write(`  verify: ${r.verify?.result ?? 'not run'}\n`);
    for (const d of r.verify?.differing ?? []) process.stdout.write(`    ${d.region} ${d.table}: ${d.rows.join(', ')}\n`);
    for (const p of r.verify?.problems ?? []) process.stdout.write(`    problem: ${p}\n`);
    return r.verify?.result === 'equal' ? 0 : 1;
  }
  return 0;
}

async function main(): Promise<number> {
  const config = loadConfigOrExit();
  let parsed;
  try {
    parsed = await payloadFrom(process.argv.slice(2), config);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`recover: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const { payload, workerWaitMs } = parsed;
  const logger = createLogger({ level: 'warn', name: 'recover' });
  const redis = createRedis(config, 'cli');
  redis.on('error', () => undefined);
  let stores: SiteStores | undefined;
  const storesIfApply = () => (payload.apply ? (stores ??= openSiteStores(config, logger)) : undefined);
  const cleanup: Array<() => Promise<unknown>> = [async () => stores && closeSiteStores(stores), async () => redis.disconnect()];
  try {
    const reachable = await waitReady(redis, 1500).then(
      () => true,
      () => false,
    );
    if (!reachable) {
      process.stdout.write('recover: Redis is not reachable; running the recovery here\n');
      const result = await runRecoveryPayload(payload, { config, stores: storesIfApply() }, (p) => {
        process.stdout.write(`  [${String(p.percent).padStart(3)}%] ${p.phase}: ${p.message}\n`);
      });
      return printResult(result);
    }
    const queue = new Queue(RECOVERY_QUEUE, { connection: redis, prefix: config.prefix });
    const queues = new QueueSet(redis, config.prefix, config.partitions);
    cleanup.unshift(async () => queue.close(), async () => queues.close());
    const jobId = `recovery-${payload.site}-${Date.now()}-${randomBytes(3).toString('hex')}`;
    await queue.add('recovery', payload, { jobId, ...JOB_OPTIONS.recovery });
    process.stdout.write(`recover: enqueued job ${jobId} (queue ${RECOVERY_QUEUE}, prefix ${config.prefix})\n`);
    let local: Worker | undefined;
    cleanup.unshift(async () => local?.close());
    const started = Date.now();
    let shown = 0;
    for (;;) {
      const job = await queue.getJob(jobId);
      if (!job) throw new Error(`job ${jobId} disappeared from the queue`);
      const state = await job.getState();
      const { logs } = await queue.getJobLogs(jobId, shown, -1);
      for (const line of logs) process.stdout.write(`  [${String(job.progress ?? 0).padStart(3)}%] ${line}\n`);
      shown += logs.length;
      if (state === 'completed') return printResult(job.returnvalue as RecoveryJobResult);
      if (state === 'failed') {
        process.stderr.write(`recover: the job failed: ${job.failedReason}\n`);
        return 2;
      }
      if (!local && (state === 'waiting' || state === 'prioritized') && Date.now() - started > workerWaitMs) {
        process.stdout.write(`recover: no worker took the job within ${workerWaitMs} ms; running it here\n`);
        local = startRecoveryWorker({ config, stores: storesIfApply(), queues, logger }, { redisUrl: config.redisUrl, prefix: config.prefix });
      }
      await sleep(250);
    }
  } finally {
    for (const c of cleanup) await c().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`recover: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
