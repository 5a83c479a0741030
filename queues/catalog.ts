/**
 * The job catalog: every job name with its payload schema, default options and queue naming.
 * One place, used by the gateway and the workers alike.
 */
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { REGIONS, type Region } from '../src/domain/fragmentation.js';
import { WriteOpSchema } from '../src/domain/write-op.js';

/** One op of a `replicate` job: the op, and where and under which epoch it was applied first. */
export const ReplicateItemSchema = z.object({
  op: WriteOpSchema,
  sourceSite: z.enum(['db1', 'db2', 'db3', 'db4']),
  sourceEpoch: z.number().int().nonnegative(),
  /** The row after the change on the source (database columns): the replica installs it whole. */
  row: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullable().optional(),
  /** The source journaled the op as superseded: the replica journals it and changes nothing. */
  superseded: z.boolean().optional(),
});

/** Most ops in one `replicate` job. */
export const MAX_REPLICATE_BATCH = 256;

/**
 * Payload of a `replicate` job: ops of one region applied on its primary, in the order they were
 * applied there; the replicate worker installs them on the other copy in one transaction.
 */
export const ReplicateJobSchema = z.object({
  items: z.array(ReplicateItemSchema).min(1).max(MAX_REPLICATE_BATCH),
  /** How many times these ops were sent to the back of the queue (their parent had not arrived). */
  deferrals: z.number().int().nonnegative().optional(),
});

/** Payload of a `probe` job (from the job scheduler): none. */
export const ProbeJobSchema = z.object({}).passthrough();

/** Payload of a `resync` job: catch a returning primary up from the serving copy, then fail back. */
export const ResyncJobSchema = z.object({
  region: z.enum(['TP1', 'TP2', 'TP3']),
  /** Who asked: the probe (`auto`) or an operator (`manual`). */
  trigger: z.enum(['auto', 'manual']).default('auto'),
});

/** Queue of the probe job (one job scheduler per deployment). */
export const PROBE_QUEUE = 'probe';
/** Queue of resync jobs. */
export const RESYNC_QUEUE = 'resync';
/** Id of the one probe job scheduler. */
export const PROBE_SCHEDULER_ID = 'probe-sites';

/**
 * Payload of a `recovery` job (DESIGN.md section 5): rebuild `site` from the logs written at or
 * after `since` (ISO instant) and before `until`; see `src/recovery/run-recovery.ts`.
 */
export const RecoveryJobSchema = z.object({
  /** Target site. */
  site: z.enum(['db1', 'db2', 'db3', 'db4']),
  /** ISO 8601 instants; `since` inclusive, `until` exclusive. */
  since: z.string().datetime({ offset: true }),
  until: z.string().datetime({ offset: true }).optional(),
  source: z.enum(['files', 'loki']).default('files'),
  /** Folder of the daily log files (absolute). */
  logDir: z.string().min(1).optional(),
  /** Ask the local model (Ollama) for entries no deterministic rule converts. */
  ai: z.boolean().default(true),
  /** Run the script on the site, then verify it against its replica. */
  apply: z.boolean().default(false),
  /** Folder of the script and the report (absolute). */
  out: z.string().min(1),
  dialect: z.enum(['postgres', 'mssql']).default('postgres'),
});

/** Name of the queue of `recovery` jobs (one queue, not partitioned). */
export const RECOVERY_QUEUE = 'recovery';

/** Job names → payload schema. */
export const JOB_SCHEMAS = {
  apply: WriteOpSchema,
  replicate: ReplicateJobSchema,
  recovery: RecoveryJobSchema,
  probe: ProbeJobSchema,
  resync: ResyncJobSchema,
} as const;

/** A job name of the catalog. */
export type JobName = keyof typeof JOB_SCHEMAS;
/** The payload type of a job. */
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_SCHEMAS)[N]>;

/**
 * Default options per job.
 * - `attempts`: 1,000 with a capped backoff (see {@link backoffDelayMs}): a write is retried for
 *   hours rather than failed; only input that retrying cannot fix fails at once.
 * - `removeOnComplete: true`: a finished write job leaves Redis at once (a delete instead of
 *   keeping it and trimming the completed set by age and count on every job, docs/benchmark.md);
 *   an op's status is read from the op journals, which outlive the jobs.
 * @defaultValue see each entry
 */
export const JOB_OPTIONS: Record<JobName, JobsOptions> = {
  apply: {
    attempts: 1000,
    backoff: { type: 'capped' },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  },
  replicate: {
    attempts: 1000,
    backoff: { type: 'capped' },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  },
  // Probes come every PROBE_INTERVAL_MS: keep none of them.
  probe: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  // A failed resync is retried by the next probes (a new job), not by BullMQ.
  resync: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  // A recovery is run by an operator who watches it: one attempt, its result kept for a week.
  recovery: {
    attempts: 1,
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
  },
};

/** Retry delay after `attemptsMade` failures: 200 ms doubling, capped at 5 s. */
export function backoffDelayMs(attemptsMade: number): number {
  return Math.min(200 * 2 ** Math.max(0, attemptsMade - 1), 5000);
}

/**
 * Queue name: an `apply` queue per region and partition (`apply-TP1-0`), one `replicate` queue per
 * region (`replicate-TP2`: batches, in the order the primary applied them).
 */
export function queueName(job: 'apply' | 'replicate', region: Region, partition = 0): string {
  return job === 'apply' ? `apply-${region}-${partition}` : `replicate-${region}`;
}

/** Every queue name of a job kind, for `partitions` partitions per region (apply only). */
export function allQueueNames(job: 'apply' | 'replicate', partitions: number): string[] {
  if (job === 'replicate') return REGIONS.map((r) => queueName('replicate', r));
  return REGIONS.flatMap((r) => Array.from({ length: partitions }, (_, p) => queueName(job, r, p)));
}

/**
 * The partition of an entity: FNV-1a hash of `entity:key` modulo the partition count. All ops of
 * one entity land in one partition (consumed one at a time), so they apply in acceptance order;
 * different entities spread over every partition. A child that reaches a site before its parent
 * (another partition) is retried with backoff until the parent is applied.
 */
export function partitionOf(entity: string, key: string, partitions: number): number {
  const s = `${entity}:${key}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
