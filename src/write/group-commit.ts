/**
 * Group commit on a copy: the replicate jobs a worker process runs at the same time hand their ops
 * to one committer per target site, which applies everything pending in one round trip and one
 * transaction while the next group gathers (natural batching: the slower the site, the bigger the
 * group). Each op keeps its own journal row and version gate.
 *
 * Tried and dropped for creates on a primary: a group of literal statements, parsed and planned
 * each time, cost the site more CPU per write than the prepared one-statement create it replaced
 * (docs/benchmark.md).
 */
import type { SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import type { ApplyResult, BatchItem } from '../db/site-store.js';

/** The group a job's ops were in failed for a reason that may be another job's: retry alone. */
export class GroupCommitFailed extends Error {
  constructor(readonly reason: unknown) {
    super(`the group commit failed: ${(reason as Error)?.message ?? String(reason)}`);
  }
}

interface Submission {
  readonly items: readonly BatchItem[];
  readonly resolve: (r: ApplyResult[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * One transaction per group of submissions per site; at most one group in flight per site.
 * A group of one submission fails with the store's own error; a bigger group that fails rejects
 * every submission with {@link GroupCommitFailed} (the transaction was rolled back: nothing of it
 * was kept), and each job then applies its ops on its own.
 */
export class GroupCommitter {
  private readonly pending = new Map<SiteId, Submission[]>();
  private readonly busy = new Set<SiteId>();

  /**
   * @param stores the site stores
   * @param maxItems most ops in one transaction
   */
  constructor(
    private readonly stores: SiteStores,
    private readonly maxItems = 1024,
  ) {}

  /** Installs `items` on `target` in the next group; results in the items' order. */
  apply(target: SiteId, items: readonly BatchItem[]): Promise<ApplyResult[]> {
    return new Promise<ApplyResult[]>((resolve, reject) => {
      const list = this.pending.get(target) ?? [];
      list.push({ items, resolve, reject });
      this.pending.set(target, list);
      if (!this.busy.has(target)) void this.flush(target);
    });
  }

  private async flush(target: SiteId): Promise<void> {
    this.busy.add(target);
    try {
      for (;;) {
        const list = this.pending.get(target);
        if (!list || list.length === 0) return;
        let n = 0;
        let count = 0;
        while (n < list.length && (n === 0 || count + list[n]!.items.length <= this.maxItems)) count += list[n++]!.items.length;
        const group = list.splice(0, n);
        try {
          const results = await this.stores[target].applyBatch(group.flatMap((s) => s.items));
          let at = 0;
          for (const s of group) {
            s.resolve(results.slice(at, at + s.items.length));
            at += s.items.length;
          }
        } catch (err) {
          for (const s of group) s.reject(group.length === 1 ? err : new GroupCommitFailed(err));
        }
      }
    } finally {
      this.busy.delete(target);
    }
  }
}
