import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { REGIONS, type Region } from '../src/domain/fragmentation.js';
import { JOB_OPTIONS, queueName, type JobPayload } from './catalog.js';

/** The partitioned `apply` queues and the `replicate` queue of every region. */
export class QueueSet {
  readonly apply = new Map<string, Queue>();
  readonly replicate = new Map<string, Queue>();

  /**
   * @param connection a shared ioredis connection (the gateway's fails fast when Redis is down)
   * @param prefix BullMQ key prefix (the deployment's `ESS_PREFIX`)
   * @param partitions partitions per region
   */
  constructor(
    connection: Redis,
    readonly prefix: string,
    readonly partitions: number,
  ) {
    for (const region of REGIONS) {
      for (let p = 0; p < partitions; p++) {
        const name = queueName('apply', region, p);
        this.apply.set(name, new Queue(name, { connection, prefix, defaultJobOptions: JOB_OPTIONS.apply }));
      }
      const name = queueName('replicate', region);
      this.replicate.set(name, new Queue(name, { connection, prefix, defaultJobOptions: JOB_OPTIONS.replicate }));
    }
  }

  /** The apply queue of a region's partition, or the region's replicate queue (partition ignored). */
  queue(kind: 'apply' | 'replicate', region: Region, partition = 0): Queue {
    const q = this[kind].get(queueName(kind, region, partition));
    if (!q) throw new Error(`no queue ${kind} ${region} ${partition}`);
    return q;
  }

  /** Enqueues an op for its region's apply partition; the job id is the op id. */
  async addApply(partition: number, op: JobPayload<'apply'>): Promise<void> {
    await this.queue('apply', op.region, partition).add('apply', op, { jobId: op.opId });
  }

  /** Enqueues many ops, one `addBulk` per partition queue. */
  async addApplyBulk(items: Array<{ partition: number; op: JobPayload<'apply'> }>): Promise<void> {
    const byQueue = new Map<Queue, Array<{ name: string; data: JobPayload<'apply'>; opts: { jobId: string } }>>();
    for (const { partition, op } of items) {
      const q = this.queue('apply', op.region, partition);
      const list = byQueue.get(q) ?? [];
      list.push({ name: 'apply', data: op, opts: { jobId: op.opId, ...JOB_OPTIONS.apply } });
      byQueue.set(q, list);
    }
    await Promise.all([...byQueue].map(([q, jobs]) => q.addBulk(jobs)));
  }

  /** Enqueues a batch of ops applied on their region's primary, for the other copy (one job). */
  async addReplicate(region: Region, payload: JobPayload<'replicate'>, opts: { delay?: number } = {}): Promise<void> {
    await this.queue('replicate', region).add('replicate', payload, opts);
  }

  /** All queues. */
  all(): Queue[] {
    return [...this.apply.values(), ...this.replicate.values()];
  }

  /**
   * Jobs not finished yet (waiting, active, delayed, prioritized, paused) per region: apply jobs
   * (one op each) and replicate jobs (a batch of ops each).
   */
  async depths(): Promise<Record<Region, { apply: number; replicate: number }>> {
    const out = Object.fromEntries(REGIONS.map((r) => [r, { apply: 0, replicate: 0 }])) as Record<Region, { apply: number; replicate: number }>;
    const count = async (q: Queue) => {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    };
    await Promise.all(
      REGIONS.flatMap((region) => [
        ...Array.from({ length: this.partitions }, async (_, p) => {
          const n = await count(this.queue('apply', region, p));
          out[region].apply += n;
        }),
        (async () => {
          const n = await count(this.queue('replicate', region));
          out[region].replicate += n;
        })(),
      ]),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}
