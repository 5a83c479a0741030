import type { Redis } from 'ioredis';
import type { QueueSet } from '../../queues/queue-set.js';
import type { Config } from '../config/config.js';
import type { SiteStores } from '../db/site-stores.js';
import type { Logger } from '../logging/logger.js';
import type { Reads } from '../query/reads.js';
import type { RoutingTableStore } from '../routing/routing-table.js';
import type { WriteAcceptor } from '../write/accept-write.js';
import type { OpWaiter } from '../write/op-waiter.js';
import type { GatewayMetrics } from './metrics.js';

/** Everything the Hono app uses; built by `src/gateway.ts` (or a test). */
export interface GatewayDeps {
  readonly config: Config;
  readonly redis: Redis;
  readonly queues: QueueSet;
  readonly stores: SiteStores;
  readonly routing: RoutingTableStore;
  readonly acceptor: WriteAcceptor;
  readonly reads: Reads;
  readonly waiter: OpWaiter;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
}
