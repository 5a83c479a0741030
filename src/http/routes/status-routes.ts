import { Hono } from 'hono';
import { clusterStatus, probeSites, liveWorkers } from '../../status/cluster-status.js';
import { SITES } from '../../domain/fragmentation.js';
import { opStatus } from '../../write/op-status.js';
import type { GatewayDeps } from '../gateway-deps.js';

/** `/healthz`, `/api/status`, `/api/ops/:opId`, `/metrics`. */
export function statusRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  const statusDeps = { ...deps, prefix: deps.config.prefix, probeTimeoutMs: deps.config.probe.timeoutMs * 2 };

  app.get('/healthz', async (c) => {
    const missing: string[] = [];
    const [sites, redis] = await Promise.all([
      probeSites(deps.stores, 1000),
      deps.redis.ping().then(() => true, () => false),
    ]);
    for (const s of SITES) if (!sites[s].up) missing.push(`site ${s}: ${sites[s].error}`);
    if (!redis) missing.push('redis: not reachable');
    else if ((await liveWorkers(deps.redis, deps.config.prefix).catch(() => [])).length === 0) missing.push('workers: no worker process is alive');
    return missing.length === 0 ? c.json({ ok: true }) : c.json({ ok: false, missing }, 503);
  });

  app.get('/api/status', async (c) => c.json(await clusterStatus(statusDeps)));
  app.get('/api/ops/:opId', async (c) => c.json(await opStatus(c.req.param('opId'), deps.stores, deps.queues)));
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }));
  return app;
}
