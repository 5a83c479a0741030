import type { Redis } from 'ioredis';
import type { QueueSet } from '../../queues/queue-set.js';
import { REGIONS, SITES, type Region, type SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import { redisKeys } from '../routing/keys.js';
import type { RoutingTable, RoutingTableStore } from '../routing/routing-table.js';

/** Health of one site as seen now by a probe from this process. */
export interface SiteHealth {
  readonly up: boolean;
  /** Round trip of the probe, ms. */
  readonly latencyMs: number;
  readonly error?: string;
}

/** What `GET /api/status` answers. */
export interface ClusterStatus {
  readonly time: string;
  readonly redis: { up: boolean; error?: string };
  readonly sites: Record<SiteId, SiteHealth>;
  readonly routes: RoutingTable | null;
  /** Per region: jobs waiting to apply on the serving site, and ops applied but not yet on the other copy. */
  readonly queues: Record<Region, { apply: number; replicationBacklog: number }> | null;
  /** Worker processes alive (heartbeats), by id. */
  readonly workers: string[];
}

/** Probes every site in parallel with a timeout, ms. */
export async function probeSites(stores: SiteStores, timeoutMs: number): Promise<Record<SiteId, SiteHealth>> {
  const out = {} as Record<SiteId, SiteHealth>;
  await Promise.all(
    SITES.map(async (site) => {
      const t0 = performance.now();
      try {
        await stores[site].ping(timeoutMs);
        out[site] = { up: true, latencyMs: Math.round(performance.now() - t0) };
      } catch (err) {
        out[site] = { up: false, latencyMs: Math.round(performance.now() - t0), error: (err as Error).message };
      }
    }),
  );
  return out;
}

/** Worker process ids with a live heartbeat. */
export async function liveWorkers(redis: Redis, prefix: string): Promise<string[]> {
  const keys = redisKeys(prefix);
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', keys.workerHeartbeatPattern, 'COUNT', 200);
    cursor = next;
    found.push(...batch.map((k) => k.slice(keys.workerHeartbeatPattern.length - 1)));
  } while (cursor !== '0');
  return found.sort();
}

/** Gathers the cluster status; parts that cannot be read are null or marked down, never thrown. */
export async function clusterStatus(deps: {
  redis: Redis;
  prefix: string;
  stores: SiteStores;
  routing: RoutingTableStore;
  queues: QueueSet;
  probeTimeoutMs: number;
}): Promise<ClusterStatus> {
  const sitesP = probeSites(deps.stores, deps.probeTimeoutMs);
  let redisUp = true;
  let redisError: string | undefined;
  let routes: RoutingTable | null = null;
  let queues: ClusterStatus['queues'] = null;
  let workers: string[] = [];
  try {
    await deps.redis.ping();
    [routes, workers] = await Promise.all([deps.routing.all(), liveWorkers(deps.redis, deps.prefix)]);
    const depths = await deps.queues.depths();
    queues = Object.fromEntries(REGIONS.map((r) => [r, { apply: depths[r].apply, replicationBacklog: depths[r].replicate }])) as ClusterStatus['queues'];
  } catch (err) {
    redisUp = false;
    redisError = (err as Error).message;
  }
  return {
    time: new Date().toISOString(),
    redis: redisError ? { up: redisUp, error: redisError } : { up: redisUp },
    sites: await sitesP,
    routes,
    queues,
    workers,
  };
}
