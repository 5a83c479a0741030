import { Hono } from 'hono';
import { z } from 'zod';
import { EssError } from '../../domain/errors.js';
import { fieldProblems } from '../../write/validation.js';
import type { GatewayDeps } from '../gateway-deps.js';
import { idempotencyKey, readJson } from '../request-body.js';
import { answerAccepted, waitParam } from './write-routes.js';

/** The original project's branch body: `chinhanh(maCN, tenCN, thanhpho)` (DESIGN.md section 2). */
const ChiNhanhSchema = z.strictObject({
  maCN: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-", 1 to 64 characters'),
  tenCN: z.string().trim().min(1, 'must not be empty').max(200),
  thanhpho: z.enum(['TP1', 'TP2', 'TP3'], { error: 'unknown region: expected TP1, TP2 or TP3' }),
});

/** Compatibility routes of the original project: `POST /api/chinhanh` creates a branch. */
export function compatRoutes(deps: GatewayDeps): Hono {
  const app = new Hono();
  app.post('/chinhanh', async (c) => {
    const parsed = ChiNhanhSchema.safeParse(await readJson(c));
    if (!parsed.success) {
      const fields = fieldProblems(parsed.error);
      throw new EssError('validation_failed', `invalid chinhanh: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`, { fields });
    }
    const { maCN, tenCN, thanhpho } = parsed.data;
    const waitMs = waitParam(deps, c);
    const accepted = await deps.acceptor.accept({
      entity: 'branch',
      action: 'create',
      body: { id: maCN, name: tenCN, region: thanhpho },
      idempotencyKey: idempotencyKey(c),
      requestId: c.get('requestId'),
    });
    return answerAccepted(deps, c, accepted, waitMs);
  });
  return app;
}
