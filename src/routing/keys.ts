import type { EntityName } from '../domain/entities.js';

/** Every Redis key of a deployment, under its prefix (`ESS_PREFIX`, default `ess`). */
export function redisKeys(prefix: string) {
  return {
    /** Hash region → JSON {@link Route}. */
    routes: `${prefix}:routes`,
    /** Hash id → `region|branchId`: the fragmentation catalog of one entity. */
    catalog: (entity: EntityName) => `${prefix}:catalog:${entity}`,
    /** Hash id → last per-entity sequence given at acceptance. */
    seq: (entity: EntityName) => `${prefix}:seq:${entity}`,
    /** String: JSON of an accepted idempotent request, for 24 h. */
    idempotency: (key: string) => `${prefix}:idem:${key}`,
    /** String with TTL: a worker process is alive. */
    workerHeartbeat: (id: string) => `${prefix}:workers:${id}`,
    workerHeartbeatPattern: `${prefix}:workers:*`,
    /** Pub/sub channel: a region's route changed (message: the region); workers drop their cached route. */
    routeChanges: `${prefix}:route-changes`,
    /** Pub/sub channel: ops finished (replicated or failed). */
    opEvents: `${prefix}:op-events`,
    /** Hash site → JSON {@link SiteHealthRecord}. */
    siteHealth: `${prefix}:site-health`,
    /** List (newest first, capped) of JSON route changes. */
    routeHistory: `${prefix}:route-history`,
    /** Hash region → JSON fence: the primary is not routed to until recovered. */
    fenced: `${prefix}:fenced`,
    /** String: a resync of the region is running (lock with TTL). */
    resyncLock: (region: string) => `${prefix}:resync-lock:${region}`,
  };
}

/** The key set of a prefix. */
export type RedisKeys = ReturnType<typeof redisKeys>;
