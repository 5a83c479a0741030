/**
 * Groups the replication of ops applied on a region's primary into `replicate` jobs of many ops:
 * per write, the second job (add, fetch, complete) and the backup's commit are shared by every op
 * applied while the previous batch was being enqueued (docs/benchmark.md).
 */
import { MAX_REPLICATE_BATCH, type ReplicateItemSchema } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import type { Region } from '../domain/fragmentation.js';
import type { z } from 'zod';

/** One op to replicate (see `ReplicateItemSchema`). */
export type ReplicateItem = z.infer<typeof ReplicateItemSchema>;

interface Pending {
  readonly item: ReplicateItem;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Per region, at most one `Queue.add` in flight; ops submitted meanwhile go into the next job (up
 * to {@link MAX_REPLICATE_BATCH}). {@link submit} resolves once the job holding the op is in Redis,
 * so an apply job completes only after its replication is queued (a worker killed before that
 * re-runs the apply job, which finds the op journaled and queues the replication again). The
 * replicate jobs may run in any order: a copy installs whole rows under the per-entity sequence
 * gate, so an op that arrives after a later one of its entity changes nothing (`superseded`).
 */
export class ReplicationBatcher {
  private readonly pending = new Map<Region, Pending[]>();
  private readonly flushing = new Set<Region>();

  constructor(
    private readonly queues: QueueSet,
    private readonly maxBatch = MAX_REPLICATE_BATCH,
  ) {}

  /** Queues `item` for its region's replicate queue; resolves when its job is added. @throws the add's error */
  submit(item: ReplicateItem): Promise<void> {
    const region = item.op.region;
    return new Promise<void>((resolve, reject) => {
      const list = this.pending.get(region) ?? [];
      list.push({ item, resolve, reject });
      this.pending.set(region, list);
      if (!this.flushing.has(region)) void this.flush(region);
    });
  }

  private async flush(region: Region): Promise<void> {
    this.flushing.add(region);
    try {
      for (;;) {
        const list = this.pending.get(region);
        if (!list || list.length === 0) return;
        const batch = list.splice(0, this.maxBatch);
        try {
          await this.queues.addReplicate(region, { items: batch.map((b) => b.item) });
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing.delete(region);
    }
  }
}
