/**
 * Groups the replication of ops applied on a region's primary into `replicate` jobs of many ops:
 * per write, the second job (add, fetch, complete) and the backup's commit are shared by every op
 * applied while the previous batch was being enqueued (docs/benchmark.md).
 */
import { MAX_REPLICATE_BATCH, type ReplicateItemSchema } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import type { Region } from '../domain/fragmentation.js';
import type { z } from 'zod';
import { NaturalBatcher } from './natural-batcher.js';

/** One op to replicate (see `ReplicateItemSchema`). */
export type ReplicateItem = z.infer<typeof ReplicateItemSchema>;

/**
 * Per region, at most one `Queue.add` in flight; ops submitted meanwhile go into the next job (up
 * to {@link MAX_REPLICATE_BATCH}). {@link submit} resolves once the job holding the op is in Redis,
 * so an apply job completes only after its replication is queued (a worker killed before that
 * re-runs the apply job, which finds the op journaled and queues the replication again). The
 * replicate jobs may run in any order: a copy installs whole rows under the per-entity sequence
 * gate, so an op that arrives after a later one of its entity changes nothing (`superseded`).
 */
export class ReplicationBatcher {
  private readonly batcher: NaturalBatcher<Region, ReplicateItem, void>;

  constructor(queues: QueueSet, maxBatch = MAX_REPLICATE_BATCH) {
    this.batcher = new NaturalBatcher<Region, ReplicateItem, void>({
      async run(region, items) {
        await queues.addReplicate(region, { items: [...items] });
        return items.map((): void => undefined);
      },
      take: (waiting) => Math.min(waiting.length, maxBatch),
    });
  }

  /** Queues `item` for its region's replicate queue; resolves when its job is added. @throws the add's error */
  submit(item: ReplicateItem): Promise<void> {
    return this.batcher.submit(item.op.region, item);
  }
}
