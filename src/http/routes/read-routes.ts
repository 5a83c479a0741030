import { Hono } from 'hono';
import { ENTITIES } from '../../domain/entities.js';
import { EssError } from '../../domain/errors.js';
import { isRegion } from '../../domain/fragmentation.js';
import type { GatewayDeps } from '../gateway-deps.js';
import { intParam } from '../request-body.js';

/** Read routes of every entity: `GET /api/<entities>/:id` and `GET /api/<entities>?region=&<parent>=&cursor=&limit=`. */
export function readRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  for (const def of Object.values(ENTITIES)) {
    app.get(`/${def.path}/:id`, async (c) => {
      const { row, region, site } = await deps.reads.byId(def.name, c.req.param('id'));
      return c.json({ ...row, _meta: { region, site } });
    });
    app.get(`/${def.path}`, async (c) => {
      const region = c.req.query('region');
      if (region !== undefined && !isRegion(region)) {
        throw new EssError('bad_request', `unknown region "${region}": expected TP1, TP2 or TP3`);
      }
      const allowed = new Set(['region', 'cursor', 'limit', ...(def.parent ? [def.parent.field] : [])]);
      const unknown = Object.keys(c.req.query()).filter((k) => !allowed.has(k));
      if (unknown.length) throw new EssError('bad_request', `unknown query parameter(s): ${unknown.join(', ')}; allowed: ${[...allowed].join(', ')}`);
      const page = await deps.reads.list({
        entity: def.name,
        region,
        parentId: def.parent ? c.req.query(def.parent.field) : undefined,
        cursor: c.req.query('cursor'),
        limit: intParam(c, 'limit', { min: 1, max: 1000 }) ?? 100,
      });
      return c.json(page);
    });
  }
  return app;
}
