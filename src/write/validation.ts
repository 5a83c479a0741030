/**
 * Request body validation (zod), generated from the entity definitions: a create needs every
 * required field; an update names only mutable fields; unknown fields are errors that name them.
 */
import { z } from 'zod';
import { ENTITIES, type ColumnDef, type EntityName } from '../domain/entities.js';
import { EssError, type FieldProblem } from '../domain/errors.js';
import { normalizeKwh } from '../domain/kwh.js';
import type { DbValues } from '../db/row-codec.js';

/** Ids: letters, digits, `_`, `.`, `-`; 1..64 characters (no `:` or `|`, used as separators). */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A calendar date from year 1 (there is no year 0 in SQL dates) to 9999. */
function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return s >= '0001-01-01' && !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** A UTF-16 surrogate not paired: text that is not Unicode (no site and no JSON column can hold it). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function fieldSchema(col: ColumnDef): z.ZodType {
  switch (col.kind) {
    case 'text':
      if (col.field === 'id' || col.field.endsWith('Id')) {
        return z.string().regex(ID_PATTERN, 'letters, digits, "_", "." or "-", 1 to 64 characters');
      }
      return z
        .string()
        .trim()
        .min(1, 'must not be empty')
        .max(col.maxLength ?? 200)
        .refine((v) => !v.includes('\u0000'), 'must not contain the NUL character')
        .refine((v) => !LONE_SURROGATE.test(v), 'must be valid Unicode text (it holds a lone UTF-16 surrogate)');
    case 'date':
      return z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD').refine(isRealDate, 'not a real calendar date (years 0001 to 9999)');
    case 'kwh':
      return z
        .union([z.number(), z.string()], { error: 'a kWh amount (number or decimal text)' })
        .transform((v, ctx) => {
          const s = normalizeKwh(v);
          if (s === undefined) {
            ctx.addIssue({ code: 'custom', message: 'a kWh amount: digits with an optional decimal point and digits (12 or "12.345"), not negative, below 1,000,000,000' });
            return z.NEVER;
          }
          return s;
        });
    case 'vnd':
      return z.number({ error: 'whole VND as an integer' }).int('whole VND as an integer').nonnegative().max(Number.MAX_SAFE_INTEGER);
    case 'int':
      return z.number().int().min(col.min ?? -2147483648).max(col.max ?? 2147483647);
    case 'bool':
      return z.boolean();
    case 'instant':
      return z.iso.datetime({ offset: true, error: 'an ISO 8601 instant with offset' });
  }
}

const cache = new Map<string, z.ZodType>();

/** The create or update schema of an entity. */
export function bodySchema(entity: EntityName, action: 'create' | 'update'): z.ZodType<Record<string, unknown>> {
  const cacheKey = `${entity}:${action}`;
  let schema = cache.get(cacheKey);
  if (!schema) {
    const def = ENTITIES[entity];
    const shape: Record<string, z.ZodType> = {};
    for (const col of def.columns) {
      if (col.field === 'region' && entity !== 'branch') continue; // derived from the parent
      if (action === 'update' && (!col.mutable || col.field === 'id')) continue;
      let s = fieldSchema(col);
      if (col.field === 'region') s = z.enum(['TP1', 'TP2', 'TP3'], { error: 'unknown region: expected TP1, TP2 or TP3' });
      // A required column is required on create and never null on update.
      shape[col.field] = col.required ? (action === 'create' ? s : s.optional()) : s.nullable().optional();
    }
    const obj = z.strictObject(shape);
    schema =
      action === 'update'
        ? obj.refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change' })
        : obj;
    cache.set(cacheKey, schema);
  }
  return schema as z.ZodType<Record<string, unknown>>;
}

/** Turns zod issues into field problems (`readings[3].kwh: …`). */
export function fieldProblems(error: z.ZodError, pathPrefix = ''): FieldProblem[] {
  return error.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ path: `${pathPrefix}${k}`, message: 'unknown field' }));
    }
    const p = i.path.map((s) => (typeof s === 'number' ? `[${s}]` : String(s))).join('.');
    return [{ path: `${pathPrefix}${p}` || pathPrefix.replace(/\.$/, '') || '(body)', message: i.message }];
  });
}

/**
 * Validates a body for a write.
 * @returns the values as database columns (canonical form)
 * @throws EssError `validation_failed` listing every problem
 */
export function validateBody(entity: EntityName, action: 'create' | 'update', body: unknown, pathPrefix = ''): DbValues {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new EssError('validation_failed', 'the body must be a JSON object', {
      fields: [{ path: pathPrefix.replace(/\.$/, '') || '(body)', message: 'expected a JSON object' }],
    });
  }
  const parsed = bodySchema(entity, action).safeParse(body);
  if (!parsed.success) {
    const fields = fieldProblems(parsed.error, pathPrefix);
    throw new EssError('validation_failed', `invalid ${entity}: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`, { fields });
  }
  const def = ENTITIES[entity];
  const out: DbValues = {};
  for (const col of def.columns) {
    if (Object.hasOwn(parsed.data, col.field)) out[col.column] = (parsed.data[col.field] ?? null) as DbValues[string];
    else if (action === 'create') out[col.column] = null;
  }
  return out;
}
