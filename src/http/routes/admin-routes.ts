import { Hono } from 'hono';
import { EssError } from '../../domain/errors.js';
import { isRegion, type Region } from '../../domain/fragmentation.js';
import { failbackNow, liftFence, plannedFailover } from '../../routing/operator.js';
import { routeHistory } from '../../routing/route-changes.js';
import { verifyCluster } from '../../verify/verify.js';
import type { GatewayDeps } from '../gateway-deps.js';

function region(param: string): Region {
  if (!isRegion(param)) throw new EssError('bad_request', `unknown region "${param}": expected TP1, TP2 or TP3`);
  return param;
}

/** Operator routes under `/admin` (behind the admin token): routes, failover, failback, unfence, verify. */
export function adminRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  const ops = { redis: deps.redis, prefix: deps.config.prefix, stores: deps.stores, routing: deps.routing, queues: deps.queues, logger: deps.logger };
  app.get('/routes', async (c) => c.json({ routes: await deps.routing.all(), history: await routeHistory(deps.redis, deps.config.prefix) }));
  app.post('/regions/:region/failover', async (c) => c.json(await plannedFailover(ops, region(c.req.param('region')))));
  app.post('/regions/:region/failback', async (c) => c.json(await failbackNow(ops, region(c.req.param('region')))));
  app.post('/regions/:region/unfence', async (c) => c.json(await liftFence(ops, region(c.req.param('region')))));
  app.get('/verify', async (c) => {
    const report = await verifyCluster(deps.stores, deps.queues, { drainTimeoutMs: 10_000 });
    return c.json(report, report.result === 'equal' ? 200 : report.result === 'different' ? 409 : 503);
  });
  return app;
}
