/**
 * Tells what a log entry is and what the deterministic path makes of it: an op log line of this
 * system (`docs/log-format.md`), an original-project winston entry, or something else.
 */
import { z } from 'zod';
import { isEntityName, type EntityName } from '../domain/entities.js';
import type { Region } from '../domain/fragmentation.js';
import type { OpLogLine } from '../logging/op-log-line.js';
import type { ChangeItem } from './change.js';
import type { LogEntry } from './log-source.js';
import { decideOriginal, type OriginalEntry } from './original-mapping.js';

const Value = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** Op log line format version 1 (`src/logging/op-log-line.ts`), as read back. */
export const OpLogLineSchema = z.object({
  level: z.number(),
  time: z.string(),
  msg: z.enum(['write.applied', 'replica.applied']),
  v: z.literal(1),
  opId: z.string().min(1),
  region: z.enum(['TP1', 'TP2', 'TP3']),
  site: z.enum(['db1', 'db2', 'db3', 'db4']),
  epoch: z.number().int().nonnegative(),
  entity: z.string().refine((s): s is EntityName => isEntityName(s), 'unknown entity'),
  table: z.string(),
  key: z.string().min(1),
  action: z.enum(['create', 'update', 'delete']),
  seq: z.number().int().positive(),
  outcome: z.enum(['applied', 'superseded']),
  row: z.record(z.string(), Value).nullable(),
  values: z.record(z.string(), Value),
  acceptedAt: z.string(),
});

/** The deterministic verdict on one entry. */
export type Classified =
  | { readonly format: 'op-log'; readonly status: 'op'; readonly line: OpLogLine; readonly reason: string }
  | { readonly format: 'original'; readonly status: 'converted'; readonly item: ChangeItem; readonly reason: string }
  | { readonly format: 'original'; readonly status: 'model'; readonly entry: OriginalEntry; readonly action: ChangeItem['action']; readonly reason: string }
  | { readonly format: 'op-log' | 'original' | 'other'; readonly status: 'ignored' | 'refused' | 'unparseable'; readonly reason: string; readonly opId?: string };

/**
 * Classifies an entry for a site holding `regions`. Lines of other regions are ignored; op log
 * lines must match format version 1 (else unparseable, naming the field).
 */
export function classifyEntry(e: LogEntry, regions: readonly Region[]): Classified {
  if (e.problem || !e.record) return { format: 'other', status: 'unparseable', reason: e.problem ?? 'not a JSON object' };
  const r = e.record;
  if (r['msg'] === 'write.applied' || r['msg'] === 'replica.applied') {
    const parsed = OpLogLineSchema.safeParse(r);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { format: 'op-log', status: 'unparseable', reason: `op log line does not match format v1: ${issue.path.join('.')}: ${issue.message}` };
    }
    const line = parsed.data as OpLogLine;
    if (!regions.includes(line.region)) return { format: 'op-log', status: 'ignored', reason: `region ${line.region} is not on this site`, opId: line.opId };
    return { format: 'op-log', status: 'op', line, reason: `${line.msg} ${line.entity} ${line.key} ${line.action} seq ${line.seq}${line.outcome === 'superseded' ? ' (superseded: journal only)' : ''}` };
  }
  if (typeof r['level'] === 'string' && typeof r['message'] === 'string') {
    const city = typeof r['city'] === 'string' ? r['city'] : e.sourceRegion;
    if (city && !regions.includes(city as Region)) return { format: 'original', status: 'ignored', reason: `region ${city} is not on this site` };
    const entry: OriginalEntry = { level: r['level'], message: r['message'], city, fields: r };
    const v = decideOriginal(entry);
    if (v.status === 'converted') return { format: 'original', status: 'converted', item: v.item, reason: v.reason };
    if (v.status === 'model') return { format: 'original', status: 'model', entry, action: v.action, reason: v.reason };
    return { format: 'original', status: v.status, reason: v.reason };
  }
  if (typeof r['level'] === 'number') return { format: 'other', status: 'ignored', reason: `not an op log line (msg ${JSON.stringify(r['msg'] ?? null)})` };
  return { format: 'other', status: 'unparseable', reason: 'neither an op log line nor an original-project (winston) entry' };
}
