import type { Redis } from 'ioredis';
import type { Region, SiteId } from '../domain/fragmentation.js';
import type { Logger } from '../logging/logger.js';
import { redisKeys } from './keys.js';
import type { Route, RoutingTableStore } from './routing-table.js';

/** One change of a region's route, as logged (`routing.changed`) and kept in the route history. */
export interface RouteChange {
  readonly region: Region;
  readonly from: SiteId;
  readonly to: SiteId;
  readonly epoch: number;
  /** `failover` (primary down), `failback` (primary caught up), or an operator's reason. */
  readonly kind: 'failover' | 'failback' | 'manual';
  readonly reason: string;
  /** ISO instant. */
  readonly at: string;
}

/**
 * A fence: the region's primary is not routed back to automatically. `needs-recovery`: it lacks ops
 * that no journal holds any more, until the recovery tool brings it forward; `maintenance`: an
 * operator moved the region off it (planned failover) and fails it back by hand.
 */
export interface Fence {
  readonly region: Region;
  readonly site: SiteId;
  readonly state: 'needs-recovery' | 'maintenance';
  readonly reason: string;
  readonly since: string;
}

/**
 * Changes a region's route with compare-and-set on its epoch, then writes one `routing.changed`
 * log line and records the change in the route history (newest first, last 200 kept).
 * @returns the change, or undefined when the epoch had moved on (another process changed it)
 */
export async function changeRoute(
  deps: { redis: Redis; prefix: string; routing: RoutingTableStore; logger: Logger },
  current: Route,
  to: SiteId,
  kind: RouteChange['kind'],
  reason: string,
): Promise<RouteChange | undefined> {
  const next = await deps.routing.compareAndSet(current.region, current.epoch, to, `${kind}: ${reason}`);
  if (!next) return undefined;
  const change: RouteChange = { region: current.region, from: current.site, to, epoch: next.epoch, kind, reason, at: next.since };
  deps.logger.warn({ ...change }, 'routing.changed');
  const key = redisKeys(deps.prefix).routeHistory;
  await deps.redis.multi().lpush(key, JSON.stringify(change)).ltrim(key, 0, 199).exec();
  return change;
}

/** The route history, newest first. */
export async function routeHistory(redis: Redis, prefix: string): Promise<RouteChange[]> {
  return (await redis.lrange(redisKeys(prefix).routeHistory, 0, -1)).map((s) => JSON.parse(s) as RouteChange);
}

/** Fences of every region. */
export async function fences(redis: Redis, prefix: string): Promise<Partial<Record<Region, Fence>>> {
  const raw = await redis.hgetall(redisKeys(prefix).fenced);
  return Object.fromEntries(Object.entries(raw).map(([r, v]) => [r, JSON.parse(v) as Fence]));
}

/** Fences a region's primary (`needs-recovery`). */
export async function fence(redis: Redis, prefix: string, f: Fence, logger: Logger): Promise<void> {
  await redis.hset(redisKeys(prefix).fenced, f.region, JSON.stringify(f));
  logger.error({ ...f }, 'routing.fenced');
}

/** Lifts a region's fence (after recovery). @returns true when there was one */
export async function unfence(redis: Redis, prefix: string, region: Region): Promise<boolean> {
  return (await redis.hdel(redisKeys(prefix).fenced, region)) === 1;
}
