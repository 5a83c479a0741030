import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { rebuildCatalog } from '../../src/routing/catalog-rebuild.js';
import { verifyCluster, waitForDrain } from '../../src/verify/verify.js';
import { createTestEnv, jsonRequest, type TestEnv } from '../support/test-env.js';

const TOKEN = 'test-admin-token-0123456789';
let env: TestEnv;
let gw: Gateway;
const admin = { authorization: `Bearer ${TOKEN}` };

async function call(path: string, init: RequestInit = {}) {
  const res = await gw.app.request(path, init);
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  env = await createTestEnv({ extraEnv: { ADMIN_TOKEN: TOKEN } });
  gw = await env.gateway();
  await env.workers();
});
afterAll(async () => env?.close());

describe('operator control', () => {
  it('admin routes need the token', async () => {
    expect((await call('/admin/routes')).status).toBe(401);
    expect((await call('/admin/routes', { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    const ok = await call('/admin/routes', { headers: admin });
    expect(ok.status).toBe(200);
    expect(ok.body.routes.TP2).toMatchObject({ site: 'db2', epoch: 1 });
    const board = await gw.app.request('/admin/queues', { headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } });
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('<html');
  });

  it('planned failover moves a region to the backup and holds it there; failback resyncs and routes back', async () => {
    expect((await call('/api/branches?wait=10000', jsonRequest('POST', { id: 'OP-B', name: 'Op', region: 'TP2' }))).status).toBe(201);
    const fo = await call('/admin/regions/TP2/failover', { method: 'POST', headers: admin });
    expect(fo.status).toBe(200);
    expect(fo.body).toMatchObject({ region: 'TP2', from: 'db2', to: 'db4', epoch: 2, kind: 'manual' });
    expect((await call('/admin/regions/TP2/failover', { method: 'POST', headers: admin })).status).toBe(409);

    // A write while failed over lands on db4 only; the primary's backlog counts it.
    const w = await call('/api/customers?wait=10000', jsonRequest('POST', { id: 'OP-C', name: 'While away', branchId: 'OP-B' }));
    expect(w.status).toBe(201);
    expect(await env.sql('db4', `SELECT name FROM customer WHERE id = 'OP-C'`)).toEqual([{ name: 'While away' }]);
    expect(await env.sql('db2', `SELECT name FROM customer WHERE id = 'OP-C'`)).toEqual([]);
    await new Promise((r) => setTimeout(r, 4000)); // probes see db2 healthy: no automatic failback during maintenance
    const st = await call('/api/status');
    expect(st.body.regions.TP2).toMatchObject({ state: 'maintenance', serving: 'db4', epoch: 2, backlogForPrimary: 1 });

    const fb = await call('/admin/regions/TP2/failback', { method: 'POST', headers: admin });
    expect(fb.status).toBe(200);
    expect(fb.body).toMatchObject({ region: 'TP2', outcome: 'failed-back', opsCopied: 1, rowsChanged: 1, change: { from: 'db4', to: 'db2', epoch: 3, kind: 'failback' } });
    expect(await env.sql('db2', `SELECT name FROM customer WHERE id = 'OP-C'`)).toEqual([{ name: 'While away' }]);
    const after = await call('/api/customers/OP-C', jsonRequest('PATCH', { name: 'Back home' }));
    expect(after.status).toBe(202);
    expect(await waitForDrain(gw.deps.queues, 30_000)).toBe(0);
    expect(await env.sql('db2', `SELECT name FROM customer WHERE id = 'OP-C'`)).toEqual([{ name: 'Back home' }]);
    expect(await env.sql('db4', `SELECT name FROM customer WHERE id = 'OP-C'`)).toEqual([{ name: 'Back home' }]);
    expect((await verifyCluster(env.stores, gw.deps.queues)).result).toBe('equal');
    expect((await call('/api/status')).body.regions.TP2).toMatchObject({ state: 'primary', serving: 'db2', epoch: 3 });
  });

  it('rebuilds the catalog and the sequences from the sites after Redis lost them', async () => {
    const p = env.config.prefix;
    await env.redis.del(`${p}:catalog:branch`, `${p}:catalog:customer`, `${p}:seq:customer`);
    expect((await call('/api/customers/OP-C')).status).toBe(404);
    const counts = await rebuildCatalog(env.redis, p, env.stores, gw.deps.routing);
    expect(counts).toMatchObject({ branch: 1, customer: 1 });
    expect((await call('/api/customers/OP-C')).body).toMatchObject({ id: 'OP-C', name: 'Back home', _meta: { region: 'TP2', site: 'db2' } });
    // The sequence continues above the applied version (2: create, one update): the next update is not taken for an old one.
    const u = await call('/api/customers/OP-C?wait=10000', jsonRequest('PATCH', { name: 'After rebuild' }));
    expect(u.body).toMatchObject({ seq: 3, state: 'replicated', row: { name: 'After rebuild' } });
  });
});
