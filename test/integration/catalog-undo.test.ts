/**
 * Undoing a refused op's catalog change must not undo a later op's (found by a fresh user: a
 * refused delete put back an entry a later delete had removed, so a child of the deleted row was
 * accepted and waited forever; a refused create removed the entry a later create had made, so the
 * row could not be read and a second create overwrote it). Real Redis, no workers: only the
 * catalog is looked at.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { WriteOp } from '../../src/domain/write-op.js';
import { undoCatalogChange, type AcceptedWrite } from '../../src/write/accept-write.js';
import { redisKeys } from '../../src/routing/keys.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let gw: Gateway;

beforeAll(async () => {
  env = await createTestEnv();
  gw = await env.gateway();
});
afterAll(async () => {
  await env?.close();
});

const keys = () => redisKeys(env.config.prefix);
const entry = (id: string) => env.redis.hget(keys().catalog('branch'), id);
const asOp = (a: AcceptedWrite): WriteOp => ({ opId: a.opId, region: a.region, entity: a.entity, key: a.key, action: a.action, seq: a.seq, branchId: a.key, values: {}, acceptedAt: new Date().toISOString() });
const create = (id: string) => gw.deps.acceptor.accept({ entity: 'branch', action: 'create', body: { id, name: id, region: 'TP2' } });
const del = (id: string) => gw.deps.acceptor.accept({ entity: 'branch', action: 'delete', id });
const update = (id: string) => gw.deps.acceptor.accept({ entity: 'branch', action: 'update', id, body: { name: `${id}!` } });

describe('undoCatalogChange', () => {
  it('a catalog entry names the create that made it', async () => {
    const c = await create('U-0');
    expect(c.seq).toBe(1);
    expect(await entry('U-0')).toBe('TP2|U-0|1');
  });

  it('a refused delete or create changes nothing once a later create or delete of the key was accepted', async () => {
    const c1 = await create('U-1'); // seq 1
    const d2 = await del('U-1'); // seq 2
    const c3 = await create('U-1'); // seq 3
    const d4 = await del('U-1'); // seq 4: the entry is gone
    expect([c1.seq, d2.seq, c3.seq, d4.seq]).toEqual([1, 2, 3, 4]);
    expect(await undoCatalogChange(env.redis, keys(), asOp(d2))).toBe(false);
    expect(await entry('U-1')).toBeNull();
    const c5 = await create('U-1'); // seq 5
    expect(await undoCatalogChange(env.redis, keys(), asOp(c1))).toBe(false);
    expect(await undoCatalogChange(env.redis, keys(), asOp(c3))).toBe(false);
    expect(await entry('U-1')).toBe(`TP2|U-1|${c5.seq}`);
  });

  it('undoes the latest create (later updates do not protect it) and the latest delete', async () => {
    const c = await create('U-2');
    await update('U-2');
    expect(await undoCatalogChange(env.redis, keys(), asOp(c))).toBe(true);
    expect(await entry('U-2')).toBeNull();
    const c2 = await create('U-3');
    const d = await del('U-3');
    expect(await undoCatalogChange(env.redis, keys(), asOp(d))).toBe(true);
    expect(await entry('U-3')).toBe(`TP2|U-3|${d.seq}`);
    // …and the create is not undone by its own op once a delete came after it.
    expect(await undoCatalogChange(env.redis, keys(), asOp(c2))).toBe(false);
  });
});
