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
import { isEssError } from '../domain/errors.js';
import { NaturalBatcher } from './natural-batcher.js';

/** The group a job's ops were in failed for a reason that may be another job's: retry alone. */
export class GroupCommitFailed extends Error {
  constructor(readonly reason: unknown) {
    super(`the group commit failed: ${(reason as Error)?.message ?? String(reason)}`);
  }
}

/**
 * One transaction per group of submissions per site; one group in flight per site (a second one
 * beside it only when it stalls: see `stallMs`). A group of one submission, or a group the site could not be reached
 * for, fails with the store's own error; a bigger group that fails otherwise rejects every
 * submission with {@link GroupCommitFailed} (the transaction was rolled back: nothing of it was
 * kept), and each job then applies its ops on its own.
 */
export class GroupCommitter {
  private readonly batcher: NaturalBatcher<SiteId, readonly BatchItem[], ApplyResult[]>;

  /**
   * @param stores the site stores
   * @param maxItems most ops in one transaction (a bigger submission goes alone)
   * @param stallMs a group in flight longer than this (a hung site) no longer holds the next group
   *   back, so the ops waiting behind it fail or succeed by themselves (a SIGSTOPped primary:
   *   without it every partition waited for the hung group's 11 s statement timeout, and the
   *   failover took 11 s to show instead of 2)
   */
  constructor(stores: SiteStores, maxItems = 1024, stallMs = 500) {
    this.batcher = new NaturalBatcher({
      stallMs,
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
      // A site that cannot be reached fails every submission the same way: say so, so each
      // caller reads the route again; any other failure may be one op's: each retries alone.
      failure: (err, size) => (size === 1 || isEssError(err, 'site_unavailable') ? err : new GroupCommitFailed(err)),
    });
  }

  /** Installs `items` on `target` in the next group; results in the items' order. */
  apply(target: SiteId, items: readonly BatchItem[]): Promise<ApplyResult[]> {
    return this.batcher.submit(target, items);
  }
}
