/**
 * The gateway process: Hono on @hono/node-server (port 9999 by default).
 * `buildGateway` wires the dependencies (tests use it in-process); run this file to serve.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { assertNoEviction, createRedis, waitReady } from '../queues/connection.js';
import { QueueSet } from '../queues/queue-set.js';
import { loadConfigOrExit, type Config } from './config/config.js';
import { closeSiteStores, openSiteStores } from './db/site-stores.js';
import { createApp } from './http/app.js';
import type { GatewayDeps } from './http/gateway-deps.js';
import { createGatewayMetrics } from './http/metrics.js';
import { createLogger, type Logger } from './logging/logger.js';
import { Reads } from './query/reads.js';
import { RoutingTableStore } from './routing/routing-table.js';
import { WriteAcceptor } from './write/accept-write.js';
import { OpWaiter } from './write/op-waiter.js';
import { warnThrottled } from './logging/throttled-warn.js';

/** A wired gateway: the app and a `close()` that releases every connection. */
export interface Gateway {
  readonly app: Hono;
  readonly deps: GatewayDeps;
  close(): Promise<void>;
}

/** Wires the gateway's dependencies from the configuration. */
export async function buildGateway(config: Config, logger: Logger): Promise<Gateway> {
  const redis = createRedis(config, 'gateway');
  redis.on('error', (err) => warnThrottled(logger, { err: { message: err.message } }, 'redis.error'));
  const subscriber = createRedis(config, 'worker');
  subscriber.on('error', () => undefined);
  await waitReady(redis, 10_000);
  if (config.checkRedisPolicy) await assertNoEviction(redis);
  const queues = new QueueSet(redis, config.prefix, config.partitions);
  const stores = openSiteStores(config, logger);
  const routing = new RoutingTableStore(redis, config.prefix);
  await routing.ensure();
  const waiter = new OpWaiter(subscriber, config.prefix, logger);
  await waiter.start();
  const deps: GatewayDeps = {
    config,
    redis,
    queues,
    stores,
    routing,
    acceptor: new WriteAcceptor({ redis, queues, prefix: config.prefix, idempotencyTtlHours: config.idempotencyTtlHours }),
    reads: new Reads(redis, config.prefix, stores, routing),
    waiter,
    logger,
    metrics: createGatewayMetrics(),
  };
  return {
    app: createApp(deps),
    deps,
    async close() {
      await waiter.close();
      await queues.close();
      await closeSiteStores(stores);
      await redis.quit().catch(() => undefined);
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, name: 'gateway' });
  const gateway = await buildGateway(config, logger);
  const server: ServerType = serve({ fetch: gateway.app.fetch, port: config.port, hostname: config.host }, (info) =>
    logger.info({ port: info.port, host: config.host }, 'gateway.listening'),
  );
  const stop = async (signal: string) => {
    logger.info({ signal }, 'gateway.stopping');
    server.close();
    await gateway.close();
    logger.flush();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`gateway failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
