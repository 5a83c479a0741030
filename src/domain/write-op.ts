import { z } from 'zod';
import { isEntityName, type EntityName } from './entities.js';

/** The three write actions. */
export const ACTIONS = ['create', 'update', 'delete'] as const;
export type WriteAction = (typeof ACTIONS)[number];

/** Op ids: the region, a dash and a UUID (no `:`, which BullMQ job ids must not contain). */
export const OP_ID_PATTERN = /^TP[123]-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A write operation as accepted by the gateway: the payload of the `apply` and `replicate` jobs,
 * the op journal's row and the `write.applied` log line all carry it.
 *
 * `values` holds database column values (snake_case) in their canonical text/number form:
 * kWh as decimal text with 3 decimals, VND as integers, dates as `YYYY-MM-DD`.
 */
export const WriteOpSchema = z.object({
  opId: z.string().regex(OP_ID_PATTERN),
  region: z.enum(['TP1', 'TP2', 'TP3']),
  entity: z.string().refine(isEntityName, 'unknown entity'),
  key: z.string().min(1).max(64),
  action: z.enum(ACTIONS),
  /** Per-entity sequence given at acceptance (1, 2, …). */
  seq: z.number().int().positive(),
  /** Root of the entity's derivation chain (the catalog's placement of the entity). */
  branchId: z.string().min(1),
  values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  /** ISO instant of acceptance at the gateway. */
  acceptedAt: z.string(),
  requestId: z.string().optional(),
});

/** See {@link WriteOpSchema}. */
export type WriteOp = z.infer<typeof WriteOpSchema> & { entity: EntityName };

/** What applying an op did on one site. */
export type ApplyOutcome = 'applied' | 'superseded' | 'failed';
