import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import { mountAdmin } from './admin.js';
import { errorHandler } from './error-handler.js';
import { MAX_BODY_BYTES } from './request-body.js';
import type { GatewayDeps } from './gateway-deps.js';
import { compatRoutes } from './routes/compat-routes.js';
import { readRoutes } from './routes/read-routes.js';
import { statusRoutes } from './routes/status-routes.js';
import { writeRoutes } from './routes/write-routes.js';


/**
 * The gateway's Hono app: writes are validated and enqueued, reads routed to the sites, status,
 * metrics and (with `ADMIN_TOKEN`) Bull Board. Tested in-process with `app.request()`.
 */
export function createApp(deps: GatewayDeps): Hono {
  const app = new Hono();
  app.use(requestId());
  app.use(async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = routePath(c) || c.req.path;
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    deps.metrics.httpDuration.observe({ method: c.req.method, route }, (performance.now() - t0) / 1000);
  });
  // A declared length over the limit is refused before anything is read; a chunked body is
  // counted as it is read (readBodyText).
  app.use('/api/*', async (c, next) => {
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > MAX_BODY_BYTES) return c.json({ error: { code: 'payload_too_large', message: `the request body is over ${MAX_BODY_BYTES} bytes` } }, 413);
    return next();
  });
  app.onError(errorHandler(deps.logger));
  app.notFound((c) => {
    const hint = c.req.path.startsWith('/admin') && !deps.config.adminToken ? ' (admin routes are off: set ADMIN_TOKEN to turn them on)' : '';
    return c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}${hint}` } }, 404);
  });
  app.route('/', statusRoutes(deps));
  app.route('/api', compatRoutes(deps));
  app.route('/api', writeRoutes(deps));
  app.route('/api', readRoutes(deps));
  mountAdmin(app, deps);
  return app;
}
