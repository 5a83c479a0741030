import type { Redis } from 'ioredis';
import type { QueueSet } from '../../queues/queue-set.js';
import { PLACEMENT, REGIONS, SITES, type Region, type SiteId } from '../domain/fragmentation.js';
import { fences, routeHistory, type Fence, type RouteChange } from '../routing/route-changes.js';
import { SiteHealthStore, type SiteHealthRecord } from '../routing/site-health.js';
import { backlogKey } from '../write/apply-op.js';
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
  /**
   * Per region: apply jobs not finished (one op each), and replicate jobs not finished (each a
   * batch of up to 256 ops applied on the primary but not yet on the backup).
   */
  readonly queues: Record<Region, { apply: number; replicationBacklog: number }> | null;
  /** Worker processes alive (heartbeats), by id. */
  readonly workers: string[];
  /** Per region: which copy serves it and since when, and what the primary lacks while failed over. */
  readonly regions: Record<Region, RegionStatus> | null;
  /** Site health as the probe job keeps it (consecutive failures, last success, last error). */
  readonly health: Record<SiteId, SiteHealthRecord> | null;
  /** Route changes, newest first (last 20). */
  readonly routeHistory: RouteChange[];
}

/** A region's routing state. */
export interface RegionStatus {
  /**
   * `primary`: served by its primary; `failed-over`: by the backup, failing back by itself;
   * `maintenance`: by the backup after a planned failover; `needs-recovery`: by the backup, the
   * primary fenced until recovered.
   */
  readonly state: 'primary' | 'failed-over' | 'maintenance' | 'needs-recovery';
  readonly serving: SiteId;
  readonly primary: SiteId;
  readonly backup: SiteId;
  readonly epoch: number;
  /** ISO instant of the last route change. */
  readonly since: string;
  readonly reason: string;
  /** Ops applied on the backup since the failover, that the primary must get before failback. */
  readonly backlogForPrimary: number;
  readonly fence?: Fence;
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
  let regions: Record<Region, RegionStatus> | null = null;
  let health: Record<SiteId, SiteHealthRecord> | null = null;
  let history: RouteChange[] = [];
  try {
    await deps.redis.ping();
    let fenced: Partial<Record<Region, Fence>>;
    let backlog: Record<string, string>;
    [routes, workers, health, history, fenced, backlog] = await Promise.all([
      deps.routing.all(),
      liveWorkers(deps.redis, deps.prefix),
      new SiteHealthStore(deps.redis, deps.prefix).all(),
      routeHistory(deps.redis, deps.prefix).then((h) => h.slice(0, 20)),
      fences(deps.redis, deps.prefix),
      deps.redis.hgetall(backlogKey(deps.prefix)),
    ]);
    const r = routes;
    regions = Object.fromEntries(
      REGIONS.map((region) => {
        const { primary, backup } = PLACEMENT[region];
        const route = r[region];
        const failedOver = route.site !== primary;
        const f = fenced[region];
        const status: RegionStatus = {
          state: failedOver ? (f ? f.state : 'failed-over') : 'primary',
          serving: route.site,
          primary,
          backup,
          epoch: route.epoch,
          since: route.since,
          reason: route.reason,
          backlogForPrimary: failedOver ? Number(backlog[region] ?? 0) : 0,
          ...(f ? { fence: f } : {}),
        };
        return [region, status];
      }),
    ) as Record<Region, RegionStatus>;
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
    regions,
    health,
    routeHistory: history,
  };
}
