import type { QueueSet } from '../../queues/queue-set.js';
import { EssError } from '../domain/errors.js';
import { PLACEMENT, isRegion, type SiteId } from '../domain/fragmentation.js';
import { OP_ID_PATTERN } from '../domain/write-op.js';
import type { SiteStores } from '../db/site-stores.js';
import type { JournalEntry } from '../db/site-store.js';

/** The state of an op as `GET /api/ops/:opId` shows it. */
export interface OpStatus {
  readonly opId: string;
  /** `queued` (not applied anywhere yet), `applied` (on one copy), `replicated` (on both), `failed`. */
  readonly state: 'queued' | 'applied' | 'replicated' | 'failed';
  readonly region: string;
  readonly entity?: string;
  readonly key?: string;
  readonly action?: string;
  readonly seq?: number;
  /** `superseded` when a higher sequence of the same entity was there: the op changed nothing. */
  readonly outcome?: 'applied' | 'superseded';
  /** Per copy: outcome, epoch, applied at (ISO). */
  readonly copies: Partial<Record<SiteId, { outcome: string; epoch: number; appliedAt: string; error: string | null }>>;
  /** Why it failed, or the last error of a job still being retried. */
  readonly error?: string;
  readonly attempts?: number;
}

/**
 * Reads an op's state from the op journals of its region's two copies (which outlive the jobs),
 * then from its BullMQ apply job.
 * @throws EssError `bad_request` for a malformed op id, `not_found` when nothing knows it
 */
export async function opStatus(opId: string, stores: SiteStores, queues: QueueSet): Promise<OpStatus> {
  const region = opId.slice(0, 3);
  if (!OP_ID_PATTERN.test(opId) || !isRegion(region)) throw new EssError('bad_request', `malformed op id "${opId}"`);
  const { primary, backup } = PLACEMENT[region];
  const copies: OpStatus['copies'] = {};
  let entry: JournalEntry | undefined;
  const unreachable: SiteId[] = [];
  await Promise.all(
    [primary, backup].map(async (site) => {
      try {
        const [e] = await stores[site].journalEntries([opId]);
        if (e) {
          entry = e;
          copies[site] = { outcome: e.outcome, epoch: e.epoch, appliedAt: e.appliedAt, error: e.error };
        }
      } catch {
        unreachable.push(site);
      }
    }),
  );
  const base = entry
    ? { opId, region, entity: entry.entity, key: entry.key, action: entry.action, seq: entry.seq }
    : { opId, region };
  const failed = Object.values(copies).find((c) => c?.outcome === 'failed');
  if (failed) return { ...base, state: 'failed', copies, error: failed.error ?? 'failed' };

  if (Object.keys(copies).length > 0) {
    const outcome = Object.values(copies).some((c) => c?.outcome === 'superseded') ? 'superseded' : 'applied';
    const replicated = copies[primary] !== undefined && copies[backup] !== undefined;
    return {
      ...base,
      state: replicated ? 'replicated' : 'applied',
      outcome,
      copies,
    };
  }
  // Not journaled anywhere yet: its apply job (one op each, job id = op id) in one of the region's
  // partitions. Replicate jobs carry batches and are not looked up.
  const applyJobs = await Promise.all(Array.from({ length: queues.partitions }, (_, p) => queues.queue('apply', region, p).getJob(opId)));
  const applyJob = applyJobs.find((j) => j);
  if (applyJob) {
    const state = await applyJob.getState();
    const job = applyJob.data as { entity: string; key: string; action: string; seq: number };
    const info = { entity: job.entity, key: job.key, action: job.action, seq: job.seq, copies, attempts: applyJob.attemptsMade };
    if (state === 'failed') return { ...base, ...info, state: 'failed', error: applyJob.failedReason };
    return { ...base, ...info, state: 'queued', ...(applyJob.failedReason ? { error: applyJob.failedReason } : {}) };
  }
  if (unreachable.length > 0) {
    throw new EssError('site_unavailable', `op ${opId}: not in the queues, and ${unreachable.join(', ')} could not be read`);
  }
  throw new EssError('not_found', `op ${opId} is not known`);
}
