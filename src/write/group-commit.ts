/**
 * Group commit on a site: the jobs a worker process runs at the same time hand their ops to one
 * committer per site, which applies everything pending as one batch (PostgreSQL: one prepared
 * statement per entity table, one transaction) while the next group gathers (natural batching:
 * the slower the site, the bigger the group). Users: replicate jobs on the copy, and apply jobs
 * of creates on the serving site (each partition has one op in flight, so per-entity order holds).
 * Each op keeps its own journal row and version gate.
 */
import type { SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import type { ApplyResult, BatchItem } from '../db/site-store.js';
import { NaturalBatcher } from './natural-batcher.js';

/** The group a job's ops were in failed for a reason that may be another job's: retry alone. */
export class GroupCommitFailed extends Error {
  constructor(readonly reason: unknown) {
    super(`the group commit failed: ${(reason as Error)?.message ?? String(reason)}`);
  }
}

/**
 * One transaction per group of submissions per site; at most one group in flight per site.
 * A group of one submission fails with the store's own error; a bigger group that fails rejects
 * every submission with {@link GroupCommitFailed} (the transaction was rolled back: nothing of it
 * was kept), and each job then applies its ops on its own.
 */
export class GroupCommitter {
  private readonly batcher: NaturalBatcher<SiteId, readonly BatchItem[], ApplyResult[]>;

  /**
   * @param stores the site stores
   * @param maxItems most ops in one transaction (a bigger submission goes alone)
   */
  constructor(stores: SiteStores, maxItems = 1024) {
    this.batcher = new NaturalBatcher({
      async run(site, group) {
        const results = await stores[site].applyBatch(group.flat());
        let at = 0;
        return group.map((items) => results.slice(at, (at += items.length)));
      },
      take(waiting) {
        let n = 0;
        let count = 0;
        while (n < waiting.length && (n === 0 || count + waiting[n]!.length <= maxItems)) count += waiting[n++]!.length;
        return n;
      },
      failure: (err, size) => (size === 1 ? err : new GroupCommitFailed(err)),
    });
  }

  /** Installs `items` on `target` in the next group; results in the items' order. */
  apply(target: SiteId, items: readonly BatchItem[]): Promise<ApplyResult[]> {
    return this.batcher.submit(target, items);
  }
}
