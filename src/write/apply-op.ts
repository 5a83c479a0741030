/**
 * The workers' half of the write path: apply an op on the site the routing table names, then on
 * the other copy (DESIGN.md section 3, steps 3-4; section 4 for the epochs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobPayload } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import { ENTITIES } from '../domain/entities.js';
import { EssError, isEssError } from '../domain/errors.js';
import { PLACEMENT, otherCopy, type SiteId } from '../domain/fragmentation.js';
import type { WriteOp } from '../domain/write-op.js';
import type { SiteStores } from '../db/site-stores.js';
import type { ApplyResult, BatchItem } from '../db/site-store.js';
import type { Logger } from '../logging/logger.js';
import type { OpLog } from '../logging/op-log.js';
import { redisKeys, type RedisKeys } from '../routing/keys.js';
import type { RoutingTableStore } from '../routing/routing-table.js';
import { undoCatalogChange } from './accept-write.js';
import { opEvent, type OpEvent } from './op-events.js';
import { GroupCommitFailed, type GroupCommitter } from './group-commit.js';
import type { ReplicateItem, ReplicationBatcher } from './replication-batcher.js';

/** What the apply and replicate processors need. */
export interface ApplyDeps {
  readonly redis: Redis;
  readonly prefix: string;
  readonly stores: SiteStores;
  readonly routing: RoutingTableStore;
  readonly queues: QueueSet;
  /** Groups replications into `replicate` jobs (one per worker process). */
  readonly replication: ReplicationBatcher;
  /** Group commit on a site of the ops of concurrent jobs: creates and replicate batches (one per worker process). */
  readonly groupCommit: GroupCommitter;
  readonly opLog: OpLog;
  readonly logger: Logger;
  /** Set when the process is stopping: jobs waiting in place give up (BullMQ retries them later). */
  readonly stopping?: () => boolean;
}

/** Redis hash region → ops applied on the backup while failed over (the primary's backlog). */
export function backlogKey(prefix: string): string {
  return `${prefix}:failover-backlog`;
}

/**
 * Whether an error is worth waiting out in place: the site is unreachable (a failover or its
 * return will change that), or a parent / the row itself is accepted but not applied yet (it is
 * in the catalog, so queued).
 */
async function transient(deps: ApplyDeps, keys: RedisKeys, op: WriteOp, err: unknown): Promise<boolean> {
  if (isEssError(err, 'site_unavailable')) return true;
  const def = ENTITIES[op.entity];
  if (isEssError(err, 'parent_missing') && def.parent) {
    const parentId = String(op.values[def.parent.column] ?? '');
    return (await deps.redis.hexists(keys.catalog(def.parent.entity), parentId)) === 1;
  }
  if (isEssError(err, 'row_missing')) return (await deps.redis.hexists(keys.catalog(op.entity), op.key)) === 1;
  return false;
}

/**
 * Runs `attempt` until it succeeds, waiting in place (50 ms doubling to 1 s) while the failure is
 * transient. The job keeps its partition, so later ops of the same entity cannot overtake it, and
 * each attempt re-reads the route, so a failover is picked up. A permanent refusal is thrown; so is
 * anything when the process is stopping (BullMQ retries the job later).
 */
async function untilApplied<T>(deps: ApplyDeps, keys: RedisKeys, op: WriteOp, attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (deps.stopping?.() || !(await transient(deps, keys, op, err))) throw err;
      if (n === 20) deps.logger.warn({ err, opId: op.opId }, 'write.waiting');
      await sleep(Math.min(50 * 2 ** n, 1000));
    }
  }
}

/** Journals an op that can never apply (with the reason) and fails its job for good. */
async function refuse(deps: ApplyDeps, keys: RedisKeys, op: WriteOp, site: SiteId, epoch: number, err: EssError): Promise<never> {
  const reason = `${err.code}: ${err.message}`;
  await deps.stores[site].recordFailure(op, epoch, reason);
  // The catalog changed at acceptance: undo it, so the id reads as it really is on the sites.
  await undoCatalogChange(deps.redis, keys, op);
  await publish(deps, keys, opEvent(op.opId, 'failed', null, reason));
  throw new UnrecoverableError(reason);
}

/** Tells waiting requests: one message, one event or an array of them. */
async function publish(deps: ApplyDeps, keys: RedisKeys, event: OpEvent | OpEvent[]): Promise<void> {
  await deps.redis.publish(keys.opEvents, JSON.stringify(event));
}

function logLine(deps: ApplyDeps, event: 'write.applied' | 'replica.applied', op: WriteOp, site: SiteId, epoch: number, result: ApplyResult): void {
  deps.opLog.write(event, {
    opId: op.opId,
    region: op.region,
    site,
    epoch,
    entity: op.entity,
    table: ENTITIES[op.entity].table,
    key: op.key,
    action: op.action,
    seq: op.seq,
    // A late replica changed nothing on its copy: logged superseded, so a replay changes nothing.
    outcome: result.outcome === 'superseded' || result.late ? 'superseded' : 'applied',
    row: result.dbRow,
    values: op.values,
    acceptedAt: op.acceptedAt,
  });
}

/**
 * Processes an `apply` job: applies the op on the site serving its region (journal row and change
 * in one transaction), writes the `write.applied` line, and hands the replication to the other
 * copy to the {@link ReplicationBatcher}. While the region is failed over (served by the backup)
 * nothing is replicated: the resync brings the primary up from the backup's journal before the
 * failback.
 *
 * The route is the one read last (no round trip); a stale one is caught: a failover meanwhile by
 * the replication (it lands on the backup, which then serves), a failback meanwhile by a fresh read
 * after an apply on the backup (the op is then applied on the primary too, once, by its journal).
 * @throws UnrecoverableError when the op can never apply (it is journaled as failed)
 */
export async function applyWrite(deps: ApplyDeps, op: WriteOp): Promise<ApplyResult> {
  const keys = redisKeys(deps.prefix);
  const { primary } = PLACEMENT[op.region];
  let site: SiteId = primary;
  let epoch = 0;
  let result: ApplyResult;
  let retry = false;
  try {
    result = await untilApplied(deps, keys, op, async () => {
      // The first attempt takes the route read last (the check after the apply is the fresh read
      // that decides); a retry reads it afresh, so a failover is picked up.
      const route = retry ? await deps.routing.get(op.region) : await deps.routing.recent(op.region);
      const first = !retry;
      retry = true;
      site = route.site;
      epoch = route.epoch;
      // A create joins the site's group commit with the other partitions' creates (one prepared
      // statement per group); alone (applyOp) when that group failed or on a retry, so the error
      // is this op's own.
      if (op.action === 'create' && first) {
        try {
          const [r] = await deps.groupCommit.apply(site, [{ op, epoch, change: { row: op.values, superseded: false } }]);
          return r!;
        } catch (err) {
          if (!(err instanceof GroupCommitFailed)) throw err;
        }
      }
      return deps.stores[site].applyOp(op, epoch);
    });
  } catch (err) {
    if (isEssError(err, 'parent_missing', 'row_missing', 'has_children', 'rejected_by_site')) return refuse(deps, keys, op, site, epoch, err);
    throw err;
  }
  if (result.outcome === 'failed') throw new UnrecoverableError(`op ${op.opId} was journaled as failed on ${site}`);
  logLine(deps, 'write.applied', op, site, epoch, result);

  if (site === primary) {
    // No second look at the route: if the region failed over meanwhile, this replication puts the
    // op on the backup, which serves it now (a late op there is gated by its sequence).
    await deps.replication.submit({
      op,
      sourceSite: site,
      sourceEpoch: epoch,
      row: result.dbRow,
      superseded: result.outcome === 'superseded',
    });
    return result;
  }
  // Applied on the backup while failed over: nothing replicates it, so check the region did not
  // fail back meanwhile; if it did, apply it on the primary too (its journal makes that once only).
  const now = await deps.routing.get(op.region);
  if (now.site !== site) {
    deps.logger.warn({ opId: op.opId, region: op.region, appliedOn: site, appliedEpoch: epoch, serving: now.site, epoch: now.epoch }, 'write.old_epoch');
    const again = await untilApplied(deps, keys, op, () => deps.stores[now.site].applyOp(op, now.epoch));
    logLine(deps, 'write.applied', op, now.site, now.epoch, again);
    await publish(deps, keys, opEvent(op.opId, 'replicated', again.row, null));
    return again;
  }
  if (!result.duplicate) await deps.redis.hincrby(backlogKey(deps.prefix), op.region, 1);
  await publish(deps, keys, opEvent(op.opId, 'replicated', result.row, null));
  return result;
}

function storeItem(item: ReplicateItem): BatchItem {
  return {
    op: item.op as WriteOp,
    // Journaled under the epoch it was first applied in: a copy's journal then tells the ops it
    // served (the route's epoch) from the ones it received as a replica.
    epoch: item.sourceEpoch,
    change: item.row !== undefined ? { row: item.row ?? null, superseded: item.superseded ?? false } : undefined,
    replica: true,
  };
}

/**
 * Processes a `replicate` job: installs its ops' resulting rows on the other copy of their region
 * (whole rows, so the copy converges even when ops reach it out of order), in one transaction,
 * writes a `replica.applied` line per op, and tells waiting requests (one message for the batch).
 * Waits in place while the copy is unreachable: the backlog shows in `/api/status` and drains by
 * itself when the copy returns. When the batch fails otherwise, its ops are applied one by one: an
 * op whose parent or children have not caught up is deferred to a new job at the back of the
 * queue; any other error fails the job, which BullMQ retries (the ops already applied are then
 * duplicates, journaled once).
 * @throws UnrecoverableError when an op was journaled as failed on the copy
 */
export async function replicateBatch(deps: ApplyDeps, payload: JobPayload<'replicate'>): Promise<ApplyResult[]> {
  const keys = redisKeys(deps.prefix);
  const groups = new Map<SiteId, ReplicateItem[]>();
  for (const item of payload.items) {
    const target = otherCopy(item.op.region, item.sourceSite);
    const list = groups.get(target) ?? [];
    list.push(item);
    groups.set(target, list);
  }
  const results: ApplyResult[] = [];
  const events: OpEvent[] = [];
  for (const [target, items] of groups) {
    let applied: ApplyResult[] | undefined;
    let alone = false;
    for (let n = 0; !applied; n++) {
      try {
        // In a group with the other replicate jobs running now; alone after the group failed.
        applied = alone ? await deps.stores[target].applyBatch(items.map(storeItem)) : await deps.groupCommit.apply(target, items.map(storeItem));
      } catch (err) {
        if (deps.stopping?.()) throw err;
        if (err instanceof GroupCommitFailed) {
          alone = true;
          continue;
        }
        if (!isEssError(err, 'site_unavailable')) break;
        if (n === 20) deps.logger.warn({ err, target, ops: items.length }, 'replica.waiting');
        await sleep(Math.min(50 * 2 ** n, 1000));
      }
    }
    let applyItems = items;
    if (!applied) {
      // One by one: an op whose parent (or children) has not caught up on this copy yet goes to
      // the back of the queue in a new job; waiting here would hold up the ops behind it, which
      // may be the very ones it waits for (a parent applied on the primary just before its child,
      // but queued for replication just after it).
      applied = [];
      applyItems = [];
      const deferred: ReplicateItem[] = [];
      for (const item of items) {
        const it = storeItem(item);
        try {
          applied.push(await deps.stores[target].applyOp(it.op, it.epoch, it.change));
          applyItems.push(item);
        } catch (err) {
          if (!isEssError(err, 'parent_missing', 'has_children', 'row_missing')) throw err;
          deferred.push(item);
        }
      }
      if (deferred.length > 0) {
        // 100 ms, doubling to 5 s: a parent that never arrives shows as a slow, logged loop (and
        // in the replicate queue's depth), not a busy one.
        const deferrals = (payload.deferrals ?? 0) + 1;
        deps.logger.warn({ target, ops: deferred.map((d) => d.op.opId), deferrals }, 'replica.deferred');
        await deps.queues.addReplicate(deferred[0]!.op.region, { items: deferred, deferrals }, { delay: Math.min(100 * 2 ** (deferrals - 1), 5000) });
      }
    }
    const done = applied;
    // Every op that is on the copy gets its line; one journaled there as failed (by an earlier
    // refusal) fails the job after the others are logged.
    deps.opLog.writeBatch(() =>
      done.forEach((result, i) => {
        if (result.outcome === 'failed') return;
        const item = applyItems[i]!;
        logLine(deps, 'replica.applied', item.op as WriteOp, target, item.sourceEpoch, result);
        events.push(opEvent(item.op.opId, 'replicated', result.row, null));
        results.push(result);
      }),
    );
    const failed = done.findIndex((r) => r.outcome === 'failed');
    if (failed >= 0) {
      if (events.length > 0) await publish(deps, keys, events);
      throw new UnrecoverableError(`op ${applyItems[failed]!.op.opId} was journaled as failed on ${target}`);
    }
  }
  if (events.length > 0) await publish(deps, keys, events.length === 1 ? events[0]! : events);
  return results;
}
