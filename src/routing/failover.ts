/**
 * The probe job's work (DESIGN.md section 4): probe every site with a short timeout, keep each
 * site's health in Redis, move a region to its backup after `FAILOVER_AFTER` failed probes of its
 * primary, and ask for a resync (then failback) once the primary has answered `FAILBACK_AFTER`
 * probes in a row.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_OPTIONS } from '../../queues/catalog.js';
import { PLACEMENT, REGIONS, SITES, type Region, type SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import type { Logger } from '../logging/logger.js';
import { backlogKey } from '../write/apply-op.js';
import { changeRoute, fences, type RouteChange } from './route-changes.js';
import type { RoutingTableStore } from './routing-table.js';
import { SiteHealthStore, type SiteHealthRecord } from './site-health.js';

/** What {@link probeAndFailover} needs. */
export interface FailoverDeps {
  readonly redis: Redis;
  readonly prefix: string;
  readonly stores: SiteStores;
  readonly routing: RoutingTableStore;
  readonly resyncQueue: Queue;
  readonly logger: Logger;
  /** Probe timeout, failed probes before failover, good probes before failback. */
  readonly probe: { timeoutMs: number; failoverAfter: number; failbackAfter: number };
}

/** What one probe round saw and did. */
export interface ProbeRound {
  readonly health: Record<SiteId, SiteHealthRecord>;
  readonly changes: RouteChange[];
  /** Regions whose resync was requested in this round. */
  readonly resyncs: Region[];
}

/** Probes every site once, updates the health records, and fails over or asks for a failback. */
export async function probeAndFailover(deps: FailoverDeps): Promise<ProbeRound> {
  const healthStore = new SiteHealthStore(deps.redis, deps.prefix);
  const previous = await healthStore.all();
  const health = {} as Record<SiteId, SiteHealthRecord>;
  const results = await Promise.all(
    SITES.map(async (site) => {
      const t0 = performance.now();
      try {
        await deps.stores[site].ping(deps.probe.timeoutMs);
        return { site, ok: true, ms: Math.round(performance.now() - t0), error: null as string | null, timeout: false };
      } catch (err) {
        const e = err as Error;
        return { site, ok: false, ms: Math.round(performance.now() - t0), error: e.message, timeout: /no answer within/.test(e.message) };
      }
    }),
  );
  // When every site times out in the same round, the prober itself stalled (a busy event loop):
  // that round says nothing about the sites and is not counted.
  if (results.every((r) => r.timeout)) {
    deps.logger.warn({ timeoutMs: deps.probe.timeoutMs }, 'probe.stalled');
    return { health: previous, changes: [], resyncs: [] };
  }
  await Promise.all(
    results.map(async ({ site, ok, ms, error }) => {
      const next = await healthStore.record(previous[site], ok, ms, error);
      if (previous[site].up !== next.up) deps.logger.warn({ site, up: next.up, error }, next.up ? 'site.up' : 'site.down');
      health[site] = next;
    }),
  );
  const routes = await deps.routing.all();
  const fenced = await fences(deps.redis, deps.prefix);
  const changes: RouteChange[] = [];
  const resyncs: Region[] = [];
  for (const region of REGIONS) {
    const { primary, backup } = PLACEMENT[region];
    const route = routes[region];
    if (route.site === primary) {
      const h = health[primary];
      if (h.consecutiveFailures >= deps.probe.failoverAfter && health[backup].up) {
        await deps.redis.hset(backlogKey(deps.prefix), region, 0);
        const change = await changeRoute(deps, route, backup, 'failover', `${primary} failed ${h.consecutiveFailures} probes in a row (${h.lastError})`);
        if (change) changes.push(change);
      }
    } else if (!fenced[region] && health[primary].consecutiveSuccesses >= deps.probe.failbackAfter) {
      // At most one resync per region and epoch every 10 s: the job id dedupes the requests of
      // successive probes, and a resync that failed or was busy is asked for again later.
      const slot = Math.floor(Date.now() / 10_000);
      await deps.resyncQueue.add('resync', { region, trigger: 'auto' }, { ...JOB_OPTIONS.resync, jobId: `resync-${region}-${route.epoch}-${slot}` });
      resyncs.push(region);
    }
  }
  return { health, changes, resyncs };
}
