import type { Redis } from 'ioredis';
import { ENTITY_ORDER } from '../domain/entities.js';
import { REGIONS } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import { encodePlacement } from '../write/accept-write.js';
import { redisKeys } from './keys.js';
import type { RoutingTableStore } from './routing-table.js';

/**
 * Rebuilds the fragmentation catalog in Redis (id → region and root branch) from the sites that
 * serve each region, and raises each entity's sequence to at least its applied version there, so
 * that ops accepted afterwards are never taken for older ones. Entries already in Redis are kept.
 * @returns how many ids each entity has
 */
export async function rebuildCatalog(redis: Redis, prefix: string, stores: SiteStores, routing: RoutingTableStore): Promise<Record<string, number>> {
  const keys = redisKeys(prefix);
  const counts: Record<string, number> = {};
  for (const region of REGIONS) {
    const site = (await routing.get(region)).site;
    for (const entity of ENTITY_ORDER) {
      const rows = await stores[site].placements(entity, region);
      counts[entity] = (counts[entity] ?? 0) + rows.length;
      for (let i = 0; i < rows.length; i += 1000) {
        const chunk = rows.slice(i, i + 1000);
        const states = await stores[site].entityStates(chunk.map((r) => ({ entity, key: r.id })));
        const pipe = redis.pipeline();
        for (const r of chunk) pipe.hsetnx(keys.catalog(entity), r.id, encodePlacement({ region, branchId: r.branchId }));
        for (const s of states) {
          // HINCRBY by the gap only when Redis is behind the site's applied version.
          pipe.eval(
            `local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0'); local want = tonumber(ARGV[2]); if cur < want then redis.call('HSET', KEYS[1], ARGV[1], want) end; return 0`,
            1,
            keys.seq(entity),
            s.key,
            String(s.seq),
          );
        }
        await pipe.exec();
      }
    }
  }
  return counts;
}
