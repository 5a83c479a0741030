import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { waitForDrain } from '../../src/verify/verify.js';
import { createTestEnv, jsonRequest, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let gw: Gateway;

beforeAll(async () => {
  env = await createTestEnv();
  gw = await env.gateway();
  await env.workers();
  await env.workers(); // a second worker process consuming the same partitions
});
afterAll(async () => env?.close());

describe('two worker processes', () => {
  it('apply one entity’s ops in acceptance order: none superseded, patches of different fields all kept', async () => {
    const call = async (p: string, init: RequestInit) => {
      const res = await gw.app.request(p, init);
      return { status: res.status, body: (await res.json()) as any };
    };
    expect((await call('/api/branches', jsonRequest('POST', { id: 'SW-B', name: 'B', region: 'TP1' }))).status).toBe(202);
    expect((await call('/api/customers', jsonRequest('POST', { id: 'SW-C', name: 'n0', branchId: 'SW-B' }))).status).toBe(202);
    // Alternating patches of two fields, accepted one after another: each must apply after the previous.
    for (let i = 1; i <= 150; i++) {
      const body = i % 2 ? { name: `n${i}` } : { phone: `p${i}` };
      expect((await call('/api/customers/SW-C', jsonRequest('PATCH', body))).status).toBe(202);
    }
    expect(await waitForDrain(gw.deps.queues, 60_000)).toBe(0);
    for (const site of ['db1', 'db4'] as const) {
      expect(await env.sql(site, `SELECT name, phone FROM customer WHERE id = 'SW-C'`)).toEqual([{ name: 'n149', phone: 'p150' }]);
      const outcomes = await env.sql(site, `SELECT outcome, count(*)::int AS n FROM op_journal WHERE entity_key = 'SW-C' GROUP BY outcome`);
      expect(outcomes).toEqual([{ outcome: 'applied', n: 151 }]);
    }
  });
});
