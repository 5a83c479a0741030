import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Queue } from 'bullmq';
import { Hono, type MiddlewareHandler } from 'hono';
import { PROBE_QUEUE, RECOVERY_QUEUE, RESYNC_QUEUE } from '../../queues/catalog.js';
import { adminRoutes } from './routes/admin-routes.js';
import { EssError } from '../domain/errors.js';
import type { GatewayDeps } from './gateway-deps.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Admin auth: `Authorization: Bearer <ADMIN_TOKEN>`, or HTTP Basic with the token as password
 * (so a browser can open Bull Board).
 */
export function adminAuth(token: string): MiddlewareHandler {
  return async (c, next) => {
    const h = c.req.header('authorization') ?? '';
    let given = '';
    if (h.startsWith('Bearer ')) given = h.slice(7);
    else if (h.startsWith('Basic ')) given = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':').slice(1).join(':');
    if (!same(given, token)) {
      c.header('WWW-Authenticate', 'Basic realm="ESS admin"');
      throw new EssError('unauthorized', 'admin token required (Authorization: Bearer <ADMIN_TOKEN>)');
    }
    await next();
  };
}

/**
 * Mounts Bull Board at `/admin/queues` (every queue: probe, resync, recovery, apply and replicate
 * partitions) and the operator routes at `/admin/*`, behind the admin token; without
 * `ADMIN_TOKEN`, admin routes are off (404).
 */
export function mountAdmin(app: Hono, deps: GatewayDeps): void {
  const token = deps.config.adminToken;
  if (!token) return;
  const board = new HonoAdapter(serveStatic);
  const control = [PROBE_QUEUE, RESYNC_QUEUE, RECOVERY_QUEUE].map((name) => new Queue(name, { connection: deps.redis, prefix: deps.config.prefix }));
  createBullBoard({ queues: [...control, ...deps.queues.all()].map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: board });
  board.setBasePath('/admin/queues');
  app.use('/admin/*', adminAuth(token));
  app.route('/admin/queues', board.registerPlugin());
  app.route('/admin', adminRoutes(deps));
}
