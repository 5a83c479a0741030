/**
 * `npm run ctl -- <command>`: operator control of the routing.
 *
 *   routes                 the routing table, the fences and the last route changes
 *   failover <region>      planned failover of a region to the backup (maintenance of its primary)
 *   failback <region>      resync the primary from the backup's journal and route back now
 *   unfence <region>       lift a needs-recovery fence once the primary equals its replica
 *   catalog-rebuild        rebuild the Redis catalog (id → region) and sequences from the sites
 *
 * Exit 0 done, 1 refused (with the reason), 2 bad arguments or unreachable.
 */
import { createRedis, waitReady } from '../../queues/connection.js';
import { QueueSet } from '../../queues/queue-set.js';
import { loadConfigOrExit } from '../config/config.js';
import { closeSiteStores, openSiteStores } from '../db/site-stores.js';
import { EssError } from '../domain/errors.js';
import { isRegion } from '../domain/fragmentation.js';
import { createLogger } from '../logging/logger.js';
import { failbackNow, liftFence, plannedFailover } from '../routing/operator.js';
import { rebuildCatalog } from '../routing/catalog-rebuild.js';
import { fences, routeHistory } from '../routing/route-changes.js';
import { RoutingTableStore } from '../routing/routing-table.js';

const USAGE = 'usage: npm run ctl -- routes | failover <TP1|TP2|TP3> | failback <region> | unfence <region> | catalog-rebuild';

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  if (!command || !['routes', 'failover', 'failback', 'unfence', 'catalog-rebuild'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (!['routes', 'catalog-rebuild'].includes(command) && !isRegion(arg)) {
    process.stderr.write(`ctl ${command}: unknown region "${arg ?? ''}": expected TP1, TP2 or TP3\n`);
    return 2;
  }
  const config = loadConfigOrExit();
  const logger = createLogger({ level: 'warn', name: 'ctl' });
  const redis = createRedis(config, 'cli');
  redis.on('error', () => undefined);
  try {
    await waitReady(redis, 10_000);
  } catch (err) {
    process.stderr.write(`ctl ${command}: Redis at ${config.redisUrl.replace(/\/\/[^@]*@/, '//')} is not reachable (${(err as Error).message})\n`);
    redis.disconnect();
    return 2;
  }
  const stores = openSiteStores(config, logger);
  const queues = new QueueSet(redis, config.prefix, config.partitions);
  const routing = new RoutingTableStore(redis, config.prefix);
  const deps = { redis, prefix: config.prefix, stores, routing, queues, logger };
  try {
    let out: unknown;
    if (command === 'routes') {
      out = { routes: await routing.all(), fences: await fences(redis, config.prefix), history: (await routeHistory(redis, config.prefix)).slice(0, 10) };
    } else if (command === 'catalog-rebuild') {
      out = { ids: await rebuildCatalog(redis, config.prefix, stores, routing) };
    } else if (command === 'failover') {
      out = await plannedFailover(deps, arg as 'TP1');
    } else if (command === 'failback') {
      out = await failbackNow(deps, arg as 'TP1');
    } else {
      out = await liftFence(deps, arg as 'TP1');
    }
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof EssError) {
      process.stderr.write(`ctl ${command}: ${err.message}\n`);
      return err.code === 'unavailable' || err.code === 'site_unavailable' ? 2 : 1;
    }
    process.stderr.write(`ctl ${command}: ${(err as Error).message}\n`);
    return 2;
  } finally {
    await queues.close().catch(() => undefined);
    await closeSiteStores(stores);
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
