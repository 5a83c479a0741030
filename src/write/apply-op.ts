/**
 * The workers' half of the write path: apply an op on the site the routing table names, then on
 * the other copy (DESIGN.md section 3, steps 3-4).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { partitionOf, type JobPayload } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import { ENTITIES } from '../domain/entities.js';
import { isEssError, type EssError } from '../domain/errors.js';
import { otherCopy, type SiteId } from '../domain/fragmentation.js';
import type { WriteOp } from '../domain/write-op.js';
import type { SiteStores } from '../db/site-stores.js';
import type { ApplyResult } from '../db/site-store.js';
import type { Logger } from '../logging/logger.js';
import type { OpLog } from '../logging/op-log.js';
import { redisKeys, type RedisKeys } from '../routing/keys.js';
import type { RoutingTableStore } from '../routing/routing-table.js';
import { opEvent, type OpEvent } from './op-events.js';

/** What the apply and replicate processors need. */
export interface ApplyDeps {
  readonly redis: Redis;
  readonly prefix: string;
  readonly stores: SiteStores;
  readonly routing: RoutingTableStore;
  readonly queues: QueueSet;
  readonly opLog: OpLog;
  readonly logger: Logger;
  /** How long a job keeps retrying an unreachable site in place (keeping its partition's order) before handing the retry to BullMQ, ms. */
  readonly inlineRetryMs?: number;
}

/**
 * Runs `fn` against the route's site, retrying in place while the site is unreachable (the
 * partition stays blocked, so later ops of the same entities cannot overtake), re-reading the
 * route each time so a failover is picked up. After `inlineRetryMs` the error is thrown and
 * BullMQ retries the job with backoff.
 */
async function withSiteRetry<T>(deps: ApplyDeps, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (deps.inlineRetryMs ?? 10_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isEssError(err, 'site_unavailable') || Date.now() > deadline) throw err;
      await sleep(Math.min(50 * 2 ** attempt, 1000));
    }
  }
}

/**
 * Decides what to do with an op that a site refused: retry while its parent or row is on its way
 * (still in the catalog, so accepted and queued), or fail it for good, journaled with the reason.
 */
async function handleRefusal(deps: ApplyDeps, keys: RedisKeys, op: WriteOp, site: SiteId, epoch: number, err: EssError): Promise<never> {
  const def = ENTITIES[op.entity];
  let pending = false;
  if (err.code === 'parent_missing' && def.parent) {
    const parentId = String(op.values[def.parent.column] ?? '');
    pending = (await deps.redis.hexists(keys.catalog(def.parent.entity), parentId)) === 1;
  } else if (err.code === 'row_missing') {
    pending = (await deps.redis.hexists(keys.catalog(op.entity), op.key)) === 1;
  }
  if (pending) throw err; // BullMQ retries with backoff; never failed while the parent is queued
  const reason = `${err.code}: ${err.message}`;
  await deps.stores[site].recordFailure(op, epoch, reason);
  if (op.action === 'create') await deps.redis.hdel(keys.catalog(op.entity), op.key);
  await publish(deps, keys, opEvent(op.opId, 'failed', null, reason));
  throw new UnrecoverableError(reason);
}

async function publish(deps: ApplyDeps, keys: RedisKeys, event: OpEvent): Promise<void> {
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
    outcome: result.outcome === 'superseded' ? 'superseded' : 'applied',
    row: result.dbRow,
    values: op.values,
    acceptedAt: op.acceptedAt,
  });
}

/**
 * Processes an `apply` job: applies the op on the site serving its region (journal row and change
 * in one transaction), writes the `write.applied` line, enqueues the replication.
 * @throws UnrecoverableError when the op can never apply (it is journaled as failed)
 */
export async function applyWrite(deps: ApplyDeps, op: WriteOp): Promise<ApplyResult> {
  const keys = redisKeys(deps.prefix);
  let site: SiteId = 'db1';
  let epoch = 0;
  let result: ApplyResult;
  try {
    result = await withSiteRetry(deps, async () => {
      const route = await deps.routing.get(op.region);
      site = route.site;
      epoch = route.epoch;
      return deps.stores[site].applyOp(op, epoch);
    });
  } catch (err) {
    if (isEssError(err, 'parent_missing', 'row_missing', 'has_children')) return handleRefusal(deps, keys, op, site, epoch, err);
    throw err;
  }
  if (result.outcome === 'failed') {
    throw new UnrecoverableError(`op ${op.opId} was journaled as failed on ${site}`);
  }
  logLine(deps, 'write.applied', op, site, epoch, result);
  await deps.queues.addReplicate(partitionOf(op.entity, op.key, deps.queues.partitions), { op, sourceSite: site, sourceEpoch: epoch });
  return result;
}

/**
 * Processes a `replicate` job: applies the op on the other copy of its region (the backup, or the
 * primary when the backup served it), writes `replica.applied`, and tells waiting requests.
 */
export async function replicateWrite(deps: ApplyDeps, payload: JobPayload<'replicate'>): Promise<ApplyResult> {
  const op = payload.op as WriteOp;
  const keys = redisKeys(deps.prefix);
  const target = otherCopy(op.region, payload.sourceSite);
  const route = await deps.routing.get(op.region);
  const result = await withSiteRetry(deps, () => deps.stores[target].applyOp(op, route.epoch));
  if (result.outcome === 'failed') throw new UnrecoverableError(`op ${op.opId} was journaled as failed on ${target}`);
  logLine(deps, 'replica.applied', op, target, route.epoch, result);
  await publish(deps, keys, opEvent(op.opId, 'replicated', result.row, null));
  return result;
}

