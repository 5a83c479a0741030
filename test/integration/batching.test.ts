/**
 * The two batching pieces of the write path, on the real test cluster (no workers running):
 * the replication batcher (ops applied while a replicate job is being added go into the next job,
 * in order) and the group commit on a copy (concurrent submissions share one transaction; a
 * failed group sends each submission back to run alone).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueSet } from '../../queues/queue-set.js';
import { isEssError } from '../../src/domain/errors.js';
import type { BatchItem } from '../../src/db/site-store.js';
import { GroupCommitFailed, GroupCommitter } from '../../src/write/group-commit.js';
import { ReplicationBatcher, type ReplicateItem } from '../../src/write/replication-batcher.js';
import { op } from '../support/site-store-contract.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let queues: QueueSet;

beforeAll(async () => {
  env = await createTestEnv();
  queues = new QueueSet(env.redis, env.config.prefix, env.config.partitions);
});
afterAll(async () => {
  await queues?.close();
  await env?.close();
});

function branchItem(id: string, seq = 1): BatchItem {
  return { op: op('branch', 'create', id, seq, {}, 'TP2', id), epoch: 1, change: { row: { id, name: `Chi nhánh ${id}`, region: 'TP2' }, superseded: false } };
}

describe('ReplicationBatcher', () => {
  it('puts the ops submitted while a job is being added into the next job, in submission order', async () => {
    const batcher = new ReplicationBatcher(queues, 3);
    const items: ReplicateItem[] = ['RB-1', 'RB-2', 'RB-3', 'RB-4', 'RB-5', 'RB-6'].map((id) => {
      const it = branchItem(id);
      return { op: it.op, sourceSite: 'db2', sourceEpoch: 1, row: it.change!.row, superseded: false };
    });
    await Promise.all(items.map((it) => batcher.submit(it)));
    const jobs = await queues.queue('replicate', 'TP2').getJobs(['waiting'], 0, -1, true);
    // The first op goes alone (nothing was in flight); the next five wait for it, then go by 3 (the limit).
    expect(jobs.map((j) => (j.data as { items: ReplicateItem[] }).items.map((i) => i.op.key))).toEqual([['RB-1'], ['RB-2', 'RB-3', 'RB-4'], ['RB-5', 'RB-6']]);
    await queues.queue('replicate', 'TP2').obliterate({ force: true });
  });
});

describe('GroupCommitter', () => {
  it('applies concurrent submissions in one group, each getting its own results in order', async () => {
    const committer = new GroupCommitter(env.stores);
    const before = await env.stores.db4.journalCount('TP2');
    const gc1 = branchItem('GC-1');
    const [a, b, c, d] = await Promise.all([
      committer.apply('db4', [gc1]),
      committer.apply('db4', [branchItem('GC-2'), branchItem('GC-3')]),
      committer.apply('db4', [gc1]),
      committer.apply('db4', [branchItem('GC-1')]),
    ]);
    expect(a).toEqual([{ opId: gc1.op.opId, outcome: 'applied', duplicate: false, row: { id: 'GC-1', name: 'Chi nhánh GC-1', region: 'TP2' }, dbRow: { id: 'GC-1', name: 'Chi nhánh GC-1', region: 'TP2' } }]);
    expect(b!.map((r) => [r.outcome, r.duplicate, r.row?.['id']])).toEqual([
      ['applied', false, 'GC-2'],
      ['applied', false, 'GC-3'],
    ]);
    // The same op again: a duplicate reporting the row; another op with the same sequence: superseded.
    expect(c).toEqual([{ ...a![0]!, duplicate: true }]);
    expect(d!.map((r) => [r.outcome, r.duplicate, r.row])).toEqual([['superseded', false, null]]);
    expect(await env.stores.db4.journalCount('TP2')).toBe(before + 4);
  });

  it('a group that fails sends every submission back with GroupCommitFailed; alone, the bad one fails with its own error', async () => {
    const committer = new GroupCommitter(env.stores);
    const orphan: BatchItem = {
      op: op('customer', 'create', 'GC-ORPHAN', 1, {}, 'TP2', 'NOPE'),
      epoch: 1,
      change: { row: { id: 'GC-ORPHAN', name: 'x', branch_id: 'NOPE', address: null, phone: null, region: 'TP2' }, superseded: false },
    };
    const first = committer.apply('db4', [branchItem('GC-0')]); // in flight: the next two form one group
    const [good, bad] = await Promise.allSettled([committer.apply('db4', [branchItem('GC-4')]), committer.apply('db4', [orphan])]);
    await first;
    expect(good.status === 'rejected' && good.reason instanceof GroupCommitFailed).toBe(true);
    expect(bad.status === 'rejected' && bad.reason instanceof GroupCommitFailed).toBe(true);
    expect(await env.stores.db4.getById('branch', 'GC-4')).toBeNull();
    const alone = await committer.apply('db4', [orphan]).catch((err: unknown) => err);
    expect(isEssError(alone, 'parent_missing')).toBe(true);
  });
});
