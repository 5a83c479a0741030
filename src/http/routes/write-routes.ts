import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { ENTITIES, type EntityDef } from '../../domain/entities.js';
import { EssError } from '../../domain/errors.js';
import type { AcceptedWrite, WriteRequest } from '../../write/accept-write.js';
import { opStatus } from '../../write/op-status.js';
import type { OpEvent } from '../../write/op-events.js';
import { errorBody, STATUS_OF } from '../error-handler.js';
import type { GatewayDeps } from '../gateway-deps.js';
import { idempotencyKey, intParam, readJson } from '../request-body.js';

/** Max items of one batch request. */
export const MAX_BATCH = 1000;

/**
 * The `?wait=<ms>` of a write request, read before the write is accepted, so a bad value refuses
 * the request (400) without accepting the write.
 * @throws EssError `bad_request` naming the parameter
 */
export function waitParam(deps: GatewayDeps, c: Context): number | undefined {
  return intParam(c, 'wait', { min: 0, max: deps.config.waitMaxMs });
}

/** Answers an accepted write: `202` at once, or with `waitMs` (from {@link waitParam}) the applied row once replicated. */
export async function answerAccepted(deps: GatewayDeps, c: Context, accepted: AcceptedWrite, waitMs: number | undefined): Promise<Response> {
  deps.metrics.writesAccepted.inc({ region: accepted.region, entity: accepted.entity, action: accepted.action });
  const statusUrl = `/api/ops/${accepted.opId}`;
  const base = { ...accepted, statusUrl };
  if (!waitMs) return c.json({ ...base, state: 'queued' }, 202, { Location: statusUrl });
  const check = async (): Promise<OpEvent | undefined> => {
    const s = await opStatus(accepted.opId, deps.stores, deps.queues).catch(() => undefined);
    if (s?.state === 'replicated') return { opId: accepted.opId, state: 'replicated', row: null, error: null };
    if (s?.state === 'failed') return { opId: accepted.opId, state: 'failed', row: null, error: s.error ?? 'failed' };
    return undefined;
  };
  const event = await deps.waiter.wait(accepted.opId, waitMs, check);
  if (!event) return c.json({ ...base, state: 'queued' }, 202, { Location: statusUrl });
  if (event.state === 'failed') {
    return c.json({ ...base, state: 'failed', error: { code: 'op_failed', message: event.error } }, 422);
  }
  let row = event.row;
  if (!row && accepted.action !== 'delete') {
    row = await deps.reads.byId(accepted.entity, accepted.key).then((r) => r.row, () => null);
  }
  return c.json({ ...base, state: 'replicated', row }, accepted.action === 'create' && !accepted.replayed ? 201 : 200);
}

const BatchSchema = z.strictObject({ items: z.array(z.unknown()).min(1, 'at least one item').max(MAX_BATCH, `at most ${MAX_BATCH} items`) });

function entityRoutes(deps: GatewayDeps, def: EntityDef, app: Hono): void {
  const base = `/${def.path}`;
  const accept = async (c: Context, req: Omit<WriteRequest, 'idempotencyKey' | 'requestId'>) => {
    const waitMs = waitParam(deps, c);
    return answerAccepted(deps, c, await deps.acceptor.accept({ ...req, idempotencyKey: idempotencyKey(c), requestId: c.get('requestId') }), waitMs);
  };

  app.post(base, async (c) => accept(c, { entity: def.name, action: 'create', body: await readJson(c) }));
  app.patch(`${base}/:id`, async (c) => accept(c, { entity: def.name, action: 'update', id: c.req.param('id'), body: await readJson(c) }));
  app.delete(`${base}/:id`, async (c) => accept(c, { entity: def.name, action: 'delete', id: c.req.param('id') }));

  // Batch create: each item accepted or refused on its own; accepted ones enqueued in bulk.
  app.post(`${base}/batch`, async (c) => {
    // Not silently ignored: a batch answers at once, and its items are made idempotent by their ids.
    if (c.req.query('wait') !== undefined) throw new EssError('bad_request', 'query parameter "wait" is not supported on a batch: it answers at once; follow each item\'s statusUrl');
    if (c.req.header('idempotency-key') !== undefined) {
      throw new EssError('bad_request', 'Idempotency-Key is not supported on a batch: each item is a create whose id makes a retry safe (an item already accepted answers 409 conflict)');
    }
    const parsed = BatchSchema.safeParse(await readJson(c));
    if (!parsed.success) {
      throw new EssError('validation_failed', `invalid batch: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`, {
        fields: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
      });
    }
    const results = await deps.acceptor.acceptMany(
      parsed.data.items.map((body) => ({ entity: def.name, action: 'create', body, requestId: c.get('requestId') })),
      'items',
    );
    let accepted = 0;
    const items = results.map((r) => {
      if (r instanceof EssError) return { status: STATUS_OF[r.code], ...errorBody(r) };
      accepted++;
      deps.metrics.writesAccepted.inc({ region: r.region, entity: r.entity, action: r.action });
      return { status: 202, ...r, statusUrl: `/api/ops/${r.opId}` };
    });
    return c.json({ accepted, refused: results.length - accepted, items }, accepted > 0 ? 202 : 400);
  });
}

/** Create / update / delete / batch routes of every writable entity, under `/api`. */
export function writeRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  for (const def of Object.values(ENTITIES)) if (def.writable) entityRoutes(deps, def, app);
  return app;
}
