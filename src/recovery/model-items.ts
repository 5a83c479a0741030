/**
 * What the local model may answer (structured output: JSON items, never SQL text) and the
 * verification of every item against the schema and against the entry it claims to come from.
 * An item that fails is not rendered; the report lists its entry as needing review, with why.
 */
import { z } from 'zod';
import { ENTITIES } from '../domain/entities.js';
import { checkItem, entityByTable, ITEM_ACTIONS, type ChangeItem, type ItemAction } from './change.js';
import type { OriginalEntry } from './original-mapping.js';

/** One entry of a chunk sent to the model: its number in the chunk and what it says. */
export interface ModelEntry {
  /** 1-based number of the entry within its chunk. */
  readonly n: number;
  readonly entry: OriginalEntry;
  /** The action the entry's level names (an item must have the same). */
  readonly action: ItemAction;
}

const ValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** One item of the model's answer. */
export const ModelItemSchema = z.strictObject({
  entry: z.number().int().positive(),
  table: z.string().min(1),
  action: z.enum(ITEM_ACTIONS),
  key: z.string(),
  values: z.record(z.string(), ValueSchema),
});

/** The model's whole answer: `{ "items": [...] }`. */
export const ModelAnswerSchema = z.strictObject({ items: z.array(ModelItemSchema).max(200) });

/** The model's answer type. */
export type ModelAnswer = z.infer<typeof ModelAnswerSchema>;

/**
 * The JSON schema passed to Ollama as `format` (structured output): the same shape as
 * {@link ModelAnswerSchema}, tables limited to this schema's.
 */
export const MODEL_ANSWER_JSON_SCHEMA = Object.freeze({
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['entry', 'table', 'action', 'key', 'values'],
        properties: {
          entry: { type: 'integer', minimum: 1 },
          table: { type: 'string', enum: Object.values(ENTITIES).map((e) => e.table) },
          action: { type: 'string', enum: [...ITEM_ACTIONS] },
          key: { type: 'string', minLength: 1 },
          values: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
        },
      },
    },
  },
});

/** The verdict on one entry of a chunk. */
export type EntryVerdict = { readonly ok: true; readonly item: ChangeItem } | { readonly ok: false; readonly reason: string };

function norm(s: string): string {
  return s.normalize('NFC').trim();
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The texts and numbers an entry holds: its field values and its message. */
function entryFacts(entry: OriginalEntry): { texts: string[]; numbers: number[]; message: string } {
  const texts: string[] = [];
  const numbers: number[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string') {
      texts.push(norm(v));
      if (/^-?\d+(\.\d+)?$/.test(v.trim())) numbers.push(Number(v));
    } else if (typeof v === 'number' && Number.isFinite(v)) {
      numbers.push(v);
      texts.push(String(v));
    }
  };
  for (const [k, v] of Object.entries(entry.fields)) if (k !== 'timestamp' && k !== 'level') add(v);
  if (entry.city) add(entry.city);
  const message = norm(entry.message);
  for (const tok of message.match(/\d[\d.,]*/g) ?? []) {
    const t = tok.replace(/[.,]$/, '');
    for (const cand of [t, t.replace(/[.,]/g, ''), t.replace(/\./g, '').replace(',', '.')]) {
      const n = Number(cand);
      if (Number.isFinite(n)) numbers.push(n);
    }
  }
  return { texts, numbers, message };
}

const PAID_TRUE = /đã\s*thanh\s*toán|\bpaid\b/iu;
const PAID_FALSE = /chưa\s*thanh\s*toán|\bunpaid\b/iu;

/** True when the entry holds the value: a field equal to it, or the message containing it. */
export function presentInEntry(value: unknown, entry: OriginalEntry): boolean {
  const facts = entryFacts(entry);
  if (value === null) return true;
  if (typeof value === 'boolean') {
    if (Object.values(entry.fields).some((v) => v === value)) return true;
    return value ? PAID_TRUE.test(facts.message) && !PAID_FALSE.test(facts.message) : PAID_FALSE.test(facts.message);
  }
  if (typeof value === 'number') return facts.numbers.includes(value);
  if (typeof value !== 'string') return false;
  const v = norm(value);
  if (v === '') return false;
  if (facts.texts.includes(v)) return true;
  if (/^-?\d+(\.\d+)?$/.test(v) && facts.numbers.includes(Number(v))) return true;
  if (new RegExp(`(^|[^\\p{L}\\p{N}_-])${escapeRe(v)}($|[^\\p{L}\\p{N}_-])`, 'u').test(facts.message)) return true;
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (date) {
    const [, y, m, d] = date;
    return [`${d}/${m}/${y}`, `${Number(d)}/${Number(m)}/${y}`].some((f) => facts.message.includes(f));
  }
  return false;
}

/** Why a model answer's text is not JSON: fences, SQL, prose. */
function notJsonReason(content: string, err: Error): string {
  const s = content.trim();
  if (s.startsWith('```') || s.includes('```')) return 'the answer is fenced text (Markdown), not a JSON object';
  if (/^\s*(INSERT|UPDATE|DELETE|MERGE|SELECT|WITH|BEGIN|CREATE|DROP|ALTER|TRUNCATE)\b/i.test(s)) return 'the answer is SQL text, not JSON items';
  return `the answer is not JSON (${err.message}): ${JSON.stringify(s.slice(0, 120))}`;
}

/**
 * Verifies a model answer for a chunk. Every entry gets a verdict: exactly one item naming it,
 * valid against {@link ModelAnswerSchema}, of the action its level names, on a known table and
 * columns, targeting one row by a key the entry holds, with every value found in the entry, and
 * passing {@link checkItem} (kinds, required columns, immutable columns). Anything else — fenced
 * text, SQL, prose, invalid JSON, two changes for one entry — fails the entries it concerns.
 * Never throws.
 */
export function verifyModelAnswer(chunk: readonly ModelEntry[], content: string): Map<number, EntryVerdict> {
  const out = new Map<number, EntryVerdict>();
  const failAll = (reason: string) => {
    for (const e of chunk) out.set(e.n, { ok: false, reason });
    return out;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (err) {
    return failAll(notJsonReason(content, err as Error));
  }
  const answer = ModelAnswerSchema.safeParse(parsed);
  if (!answer.success) {
    return failAll(`the answer does not match the item schema: ${answer.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).slice(0, 3).join('; ')}`);
  }
  for (const e of chunk) {
    const items = answer.data.items.filter((i) => i.entry === e.n);
    if (items.length === 0) {
      out.set(e.n, { ok: false, reason: 'the model returned no change for this entry' });
      continue;
    }
    if (items.length > 1) {
      out.set(e.n, { ok: false, reason: `the model returned ${items.length} changes (${items.map((i) => `${i.action} ${i.table}`).join(', ')}) for one entry; exactly one is allowed` });
      continue;
    }
    out.set(e.n, verifyItem(e, items[0]!));
  }
  return out;
}

function verifyItem(e: ModelEntry, raw: z.infer<typeof ModelItemSchema>): EntryVerdict {
  const fail = (reason: string): EntryVerdict => ({ ok: false, reason: `${raw.action} ${raw.table} ${JSON.stringify(raw.key)}: ${reason}` });
  const def = entityByTable(raw.table);
  if (!def) return fail(`table "${raw.table}" is not in the schema`);
  if (raw.action !== e.action) return fail(`the entry's level is "${e.entry.level}", the item's action "${raw.action}"`);
  if (raw.key.trim() === '') return fail('no key: the change would not target exactly one row');
  if (!presentInEntry(raw.key, e.entry)) return fail(`key ${JSON.stringify(raw.key)} is not in the entry`);
  const values: Record<string, unknown> = { ...raw.values };
  if (raw.action === 'insert' && def.columns.some((c) => c.column === 'region') && values['region'] === undefined && e.entry.city) values['region'] = e.entry.city;
  for (const [column, v] of Object.entries(values)) {
    if (column === 'id' && v === raw.key) continue;
    if (!def.columns.some((c) => c.column === column)) return fail(`column "${column}" is not in table ${def.table}`);
    if (!presentInEntry(v, e.entry)) return fail(`value ${JSON.stringify(v)} of ${column} is not in the entry`);
  }
  const checked = checkItem({ table: def.table, action: raw.action, key: raw.key.trim(), values: values as ChangeItem['values'] });
  if ('error' in checked) return fail(checked.error);
  return { ok: true, item: checked.item };
}
