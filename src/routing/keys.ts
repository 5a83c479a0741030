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
    /** Pub/sub channel: ops finished (replicated or failed). */
    opEvents: `${prefix}:op-events`,
    /** Hash site → JSON health. */
    siteHealth: `${prefix}:site-health`,
  };
}

/** The key set of a prefix. */
export type RedisKeys = ReturnType<typeof redisKeys>;
