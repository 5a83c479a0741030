/**
 * Resync and failback (DESIGN.md section 4): bring a returning primary up from the serving copy by
 * journal difference, pause only that region's writes for the final catch-up, check the two copies
 * are equal, and route back (new epoch). A primary that still differs after the catch-up lacks ops
 * that no journal holds any more: it is fenced as `needs-recovery` and never routed to.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { queueName } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import type { EntityName } from '../domain/entities.js';
import { PLACEMENT, type Region, type SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import type { Logger } from '../logging/logger.js';
import { verifyCluster } from '../verify/verify.js';
import { backlogKey } from '../write/apply-op.js';
import { redisKeys } from './keys.js';
import { changeRoute, fence, fences, type RouteChange } from './route-changes.js';
import type { RoutingTableStore } from './routing-table.js';

/** What a resync needs. */
export interface ResyncDeps {
  readonly redis: Redis;
  readonly prefix: string;
  readonly stores: SiteStores;
  readonly routing: RoutingTableStore;
  readonly queues: QueueSet;
  readonly logger: Logger;
}

/** How a resync ended. */
export interface ResyncResult {
  readonly region: Region;
  readonly outcome: 'failed-back' | 'fenced' | 'not-needed' | 'busy';
  /** Journal entries copied to the primary (and to the serving copy, the other way). */
  readonly opsCopied: number;
  readonly rowsChanged: number;
  /** How long the region's writes were paused, ms. */
  readonly pausedMs: number;
  readonly change?: RouteChange;
  readonly reason?: string;
}

const CHUNK = 500;

/**
 * Copies to `to` every op of `region` that `from`'s journal has and `to`'s lacks: the journal rows,
 * and the current state (row and version) on `from` of each entity they touched.
 * @returns journal entries copied and rows changed on `to`
 */
export async function copyJournalDifference(stores: SiteStores, region: Region, from: SiteId, to: SiteId): Promise<{ ops: number; rows: number }> {
  const [want, have] = await Promise.all([stores[from].journalOpIds(region), stores[to].journalOpIds(region)]);
  const missing = [...want].filter((id) => !have.has(id));
  let rows = 0;
  for (let i = 0; i < missing.length; i += CHUNK) {
    const entries = await stores[from].journalEntries(missing.slice(i, i + CHUNK));
    entries.sort((a, b) => (a.appliedAt < b.appliedAt ? -1 : a.appliedAt > b.appliedAt ? 1 : a.seq - b.seq));
    const keys = new Map<string, { entity: EntityName; key: string }>();
    for (const e of entries) keys.set(`${e.entity}:${e.key}`, { entity: e.entity, key: e.key });
    const states = await stores[from].entityStates([...keys.values()]);
    rows += await stores[to].installStates(entries, states);
  }
  return { ops: missing.length, rows };
}

/**
 * Resyncs a failed-over region and fails it back. Safe to call from several processes: a Redis
 * lock lets one run at a time per region.
 */
export async function resyncRegion(deps: ResyncDeps, region: Region): Promise<ResyncResult> {
  const lockKey = redisKeys(deps.prefix).resyncLock(region);
  const token = `${process.pid}-${Date.now()}`;
  if ((await deps.redis.set(lockKey, token, 'PX', 120_000, 'NX')) !== 'OK') {
    return { region, outcome: 'busy', opsCopied: 0, rowsChanged: 0, pausedMs: 0, reason: 'another resync of this region is running' };
  }
  const { primary, backup } = PLACEMENT[region];
  const applyQueues = Array.from({ length: deps.queues.partitions }, (_, p) => deps.queues.apply.get(queueName('apply', region, p))!);
  let paused = false;
  let pausedAt = 0;
  let ops = 0;
  let rows = 0;
  const log = deps.logger.child({ region, primary, backup });
  try {
    const route = await deps.routing.get(region);
    if (route.site === primary) return { region, outcome: 'not-needed', opsCopied: 0, rowsChanged: 0, pausedMs: 0 };
    if ((await fences(deps.redis, deps.prefix))[region]) {
      return { region, outcome: 'fenced', opsCopied: 0, rowsChanged: 0, pausedMs: 0, reason: 'the primary is fenced (needs-recovery)' };
    }
    log.info('resync.started');
    // Online catch-up while the backup keeps serving, until the difference is small.
    for (let round = 0; round < 5; round++) {
      const d = await copyJournalDifference(deps.stores, region, backup, primary);
      ops += d.ops;
      rows += d.rows;
      if (d.ops < 200) break;
    }
    // Final catch-up with only this region's writes paused.
    await Promise.all(applyQueues.map((q) => q.pause()));
    paused = true;
    pausedAt = Date.now();
    for (let i = 0; i < 300; i++) {
      const active = await Promise.all(applyQueues.map((q) => q.getActiveCount()));
      if (active.every((n) => n === 0)) break;
      await sleep(50);
    }
    // Both ways: an op the old primary committed under an old epoch reaches the serving copy too.
    const back = await copyJournalDifference(deps.stores, region, primary, backup);
    const fwd = await copyJournalDifference(deps.stores, region, backup, primary);
    ops += back.ops + fwd.ops;
    rows += back.rows + fwd.rows;
    const check = await verifyCluster(deps.stores, undefined, { regions: [region], reference: false });
    if (check.result !== 'equal') {
      const differing = check.tables.filter((t) => !t.equal).map((t) => `${t.table}: ${t.differingRows.slice(0, 5).map((r) => r.id).join(', ')}`);
      const reason = `after the journal catch-up ${primary} still differs from ${backup} (${differing.join('; ') || check.problems.join('; ')}): it lacks ops no journal holds any more`;
      await fence(deps.redis, deps.prefix, { region, site: primary, state: 'needs-recovery', reason, since: new Date().toISOString() }, log);
      return { region, outcome: 'fenced', opsCopied: ops, rowsChanged: rows, pausedMs: Date.now() - pausedAt, reason };
    }
    const current = await deps.routing.get(region);
    const change = await changeRoute(deps, current, primary, 'failback', `${primary} caught up: ${ops} ops copied by journal difference`);
    await deps.redis.hset(backlogKey(deps.prefix), region, 0);
    log.info({ ops, rows, pausedMs: Date.now() - pausedAt }, 'resync.done');
    return change
      ? { region, outcome: 'failed-back', opsCopied: ops, rowsChanged: rows, pausedMs: Date.now() - pausedAt, change }
      : { region, outcome: 'busy', opsCopied: ops, rowsChanged: rows, pausedMs: Date.now() - pausedAt, reason: 'the route changed during the resync' };
  } finally {
    if (paused) await Promise.all(applyQueues.map((q) => q.resume()));
    if ((await deps.redis.get(lockKey)) === token) await deps.redis.del(lockKey);
  }
}
