import { request as httpRequest } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { verifyCluster, waitForDrain } from '../../src/verify/verify.js';
import { createTestEnv, jsonRequest, type TestEnv } from '../support/test-env.js';

let env: TestEnv;
let gw: Gateway;
/** Every op id answered with 202/200/201 in this file. */
const accepted = new Set<string>();

async function call(path: string, init?: RequestInit) {
  const res = await gw.app.request(path, init);
  const body = (await res.json()) as Record<string, any>;
  if (body['opId'] && res.status < 300) accepted.add(body['opId']);
  return { status: res.status, body };
}

async function journalCount(): Promise<{ primaries: number; backup: number }> {
  const [a, b, c, d] = await Promise.all(['db1', 'db2', 'db3', 'db4'].map((s) => env.stores[s as 'db1'].journalCount()));
  return { primaries: a! + b! + c!, backup: d! };
}

beforeAll(async () => {
  env = await createTestEnv();
  gw = await env.gateway();
  await env.workers();
});
afterAll(async () => env?.close());

describe('write path', () => {
  it('POST /api/chinhanh?wait= answers the applied branch, on db2 and db4 only', async () => {
    const { status, body } = await call('/api/chinhanh?wait=10000', jsonRequest('POST', { maCN: 'CN9', tenCN: 'Chi nhánh 9', thanhpho: 'TP2' }));
    expect(status).toBe(201);
    expect(body['state']).toBe('replicated');
    expect(body['row']).toEqual({ id: 'CN9', name: 'Chi nhánh 9', region: 'TP2' });
    expect(body['seq']).toBe(1);
    const where = await Promise.all((['db1', 'db2', 'db3', 'db4'] as const).map((s) => env.sql(s, `SELECT id, name, region FROM branch WHERE id = 'CN9'`)));
    expect(where.map((rows) => rows.length)).toEqual([0, 1, 0, 1]);
    expect(where[1]).toEqual([{ id: 'CN9', name: 'Chi nhánh 9', region: 'TP2' }]);
    const again = await call('/api/chinhanh', jsonRequest('POST', { maCN: 'CN9', tenCN: 'x', thanhpho: 'TP1' }));
    expect(again.status).toBe(409);
    expect(again.body['error']['code']).toBe('conflict');
  });

  it('GET /api/ops/:opId reports replicated with both copies', async () => {
    const { body } = await call('/api/branches?wait=10000', jsonRequest('POST', { id: 'B-OPS', name: 'Ops', region: 'TP3' }));
    const s = await call(`/api/ops/${body['opId']}`);
    expect(s.status).toBe(200);
    expect(s.body['state']).toBe('replicated');
    expect(Object.keys(s.body['copies']).sort()).toEqual(['db3', 'db4']);
    expect((await call('/api/ops/TP1-00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await call('/api/ops/nonsense')).status).toBe(400);
  });

  it('applies a write once for one Idempotency-Key; another body with that key is a 422', async () => {
    const body = { id: 'B-IDEM', name: 'Idem', region: 'TP1' };
    const first = await call('/api/branches', jsonRequest('POST', body, { 'Idempotency-Key': 'k-1' }));
    const second = await call('/api/branches?wait=10000', jsonRequest('POST', body, { 'Idempotency-Key': 'k-1' }));
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body['opId']).toBe(first.body['opId']);
    expect(second.body['replayed']).toBe(true);
    const rows = await env.sql('db1', `SELECT count(*)::int AS n FROM op_journal WHERE entity = 'branch' AND entity_key = 'B-IDEM'`);
    expect(rows[0]!['n']).toBe(1);
    const other = await call('/api/branches', jsonRequest('POST', { ...body, name: 'Other' }, { 'Idempotency-Key': 'k-1' }));
    expect(other.status).toBe(422);
    expect(other.body['error']['code']).toBe('idempotency_mismatch');
  });

  it('1,000 updates to one customer from 20 clients end with the value of the highest sequence, on both copies', async () => {
    await call('/api/branches', jsonRequest('POST', { id: 'B-HOT', name: 'Hot', region: 'TP3' }));
    const created = await call('/api/customers?wait=10000', jsonRequest('POST', { id: 'C-HOT', name: 'start', branchId: 'B-HOT' }));
    expect(created.status).toBe(201);
    const answers: Array<{ seq: number; name: string }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 1000) {
          const i = next++;
          const name = `value-${i}`;
          const { status, body } = await call('/api/customers/C-HOT', jsonRequest('PATCH', { name }));
          expect(status).toBe(202);
          answers.push({ seq: body['seq'], name });
        }
      }),
    );
    expect(answers).toHaveLength(1000);
    expect(new Set(answers.map((a) => a.seq)).size).toBe(1000);
    const highest = answers.reduce((a, b) => (b.seq > a.seq ? b : a));
    expect(highest.seq).toBe(1001);
    expect(await waitForDrain(gw.deps.queues, 60_000)).toBe(0);
    const [p, b] = await Promise.all([env.sql('db3', `SELECT name FROM customer WHERE id = 'C-HOT'`), env.sql('db4', `SELECT name FROM customer WHERE id = 'C-HOT'`)]);
    expect(p).toEqual([{ name: highest.name }]);
    expect(b).toEqual([{ name: highest.name }]);
    const v = await env.sql('db3', `SELECT seq::int AS seq FROM entity_version WHERE entity = 'customer' AND entity_key = 'C-HOT'`);
    expect(v).toEqual([{ seq: 1001 }]);
  });

  describe('bad input: a 4xx naming the problem, nothing enqueued, nothing written', () => {
    async function expectNothingDone(fn: () => Promise<{ status: number; body: Record<string, any> }>, status: number, mention: string) {
      expect(await waitForDrain(gw.deps.queues, 30_000)).toBe(0);
      const before = await journalCount();
      const catalogBefore = await env.redis.hlen(`${env.config.prefix}:catalog:branch`);
      const res = await fn();
      expect(res.status).toBe(status);
      expect(JSON.stringify(res.body['error'])).toContain(mention);
      expect(res.body['opId']).toBeUndefined();
      const depths = await gw.deps.queues.depths();
      expect(Object.values(depths).every((d) => d.apply === 0 && d.replicate === 0)).toBe(true);
      expect(await journalCount()).toEqual(before);
      expect(await env.redis.hlen(`${env.config.prefix}:catalog:branch`)).toBe(catalogBefore);
    }

    it('malformed JSON', () =>
      expectNothingDone(() => call('/api/branches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id": "B-X", ' }), 400, 'malformed JSON'));
    it('a wrong content type', () =>
      expectNothingDone(() => call('/api/branches', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"id":"B-X","name":"x","region":"TP1"}' }), 415, 'content-type'));
    it('wrong field types', () =>
      expectNothingDone(() => call('/api/branches', jsonRequest('POST', { id: 'B-X', name: 42, region: 'TP1' })), 400, '"path":"name"'));
    it('a missing field', () => expectNothingDone(() => call('/api/chinhanh', jsonRequest('POST', { maCN: 'CN-X', thanhpho: 'TP1' })), 400, '"path":"tenCN"'));
    it('an unknown region', () =>
      expectNothingDone(() => call('/api/chinhanh', jsonRequest('POST', { maCN: 'CN-X', tenCN: 'x', thanhpho: 'TP9' })), 400, 'unknown region'));
    it('an unknown field', () =>
      expectNothingDone(() => call('/api/branches', jsonRequest('POST', { id: 'B-X', name: 'x', region: 'TP1', colour: 'red' })), 400, '"path":"colour"'));
    it('a reading with a bad kWh and an impossible date', async () => {
      await call('/api/branches', jsonRequest('POST', { id: 'B-R', name: 'R', region: 'TP1' }));
      await call('/api/customers', jsonRequest('POST', { id: 'C-R', name: 'R', branchId: 'B-R' }));
      await call('/api/contracts?wait=10000', jsonRequest('POST', { id: 'K-R', customerId: 'C-R', signedOn: '2024-01-01', meterSerial: 'M1' }));
      await expectNothingDone(
        () => call('/api/meter-readings', jsonRequest('POST', { id: 'R-1', contractId: 'K-R', readOn: '2024-02-30', kwh: -1 })),
        400,
        '"path":"readOn"',
      );
    });
    it('a NUL character in text', () =>
      expectNothingDone(() => call('/api/branches', jsonRequest('POST', { id: 'B-NUL', name: 'x\u0000y', region: 'TP1' })), 400, 'NUL character'));
    it('text that is not Unicode (a lone UTF-16 surrogate)', () =>
      expectNothingDone(() => call('/api/branches', jsonRequest('POST', { id: 'B-SUR', name: 'a\ud800b', region: 'TP1' })), 400, 'lone UTF-16 surrogate'));
    it('a date in year 0000', () =>
      expectNothingDone(() => call('/api/meter-readings', jsonRequest('POST', { id: 'R-Y0', contractId: 'K-R', readOn: '0000-01-01', kwh: 1 })), 400, '"path":"readOn"'));
    it('a bad ?wait: refused before the write is accepted', () =>
      expectNothingDone(() => call('/api/branches?wait=abc', jsonRequest('POST', { id: 'B-WAIT', name: 'x', region: 'TP1' })), 400, 'query parameter \\"wait\\"'));
    it('?wait and Idempotency-Key on a batch: refused, not ignored', async () => {
      await expectNothingDone(() => call('/api/branches/batch?wait=1000', jsonRequest('POST', { items: [{ id: 'B-BW', name: 'x', region: 'TP1' }] })), 400, 'not supported on a batch');
      await expectNothingDone(
        () => call('/api/branches/batch', jsonRequest('POST', { items: [{ id: 'B-BI', name: 'x', region: 'TP1' }] }, { 'Idempotency-Key': 'kb-1' })),
        400,
        'Idempotency-Key is not supported on a batch',
      );
    });
    it('null for a required field on update', () =>
      expectNothingDone(() => call('/api/customers/C-HOT', jsonRequest('PATCH', { name: null })), 400, '"path":"name"'));
    it('a body over the size limit', () =>
      expectNothingDone(() => call('/api/branches', jsonRequest('POST', { id: 'B-BIG', name: 'x'.repeat(5 * 1024 * 1024), region: 'TP1' })), 413, 'payload_too_large'));
    describe('over real HTTP (the body is read from the socket, not through a fetch Request)', () => {
      let server: ServerType;
      let port = 0;
      beforeAll(async () => {
        await new Promise<void>((resolve) => {
          server = serve({ fetch: gw.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
            port = info.port;
            resolve();
          });
        });
      });
      afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

      /** Sends `chunks` as a chunked body (no content-length), or with `contentLength` declared. */
      function send(path: string, chunks: string[], contentLength?: number): Promise<{ status: number; body: Record<string, any> }> {
        return new Promise((resolve, reject) => {
          const headers: Record<string, string | number> = { 'content-type': 'application/json' };
          if (contentLength !== undefined) headers['content-length'] = contentLength;
          const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers, agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => {
              const body = JSON.parse(text) as Record<string, any>;
              if (body['opId'] && (res.statusCode ?? 500) < 300) accepted.add(body['opId']);
              resolve({ status: res.statusCode ?? 0, body });
            });
          });
          req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
          for (const c of chunks) req.write(c);
          req.end();
        });
      }

      it('a chunked JSON body is read whole and accepted', async () => {
        const body = JSON.stringify({ id: 'B-CHUNKED', name: 'Chi nhánh chia khúc', region: 'TP2' });
        const res = await send('/api/branches', [body.slice(0, 10), body.slice(10)]);
        expect(res.status).toBe(202);
        expect(res.body).toMatchObject({ region: 'TP2', entity: 'branch', key: 'B-CHUNKED', action: 'create', replayed: false });
      });
      it('a chunked body over the size limit', () =>
        expectNothingDone(() => send('/api/branches', ['{"id":"B-BIG2","region":"TP1","name":"', 'x'.repeat(3 * 1024 * 1024), 'x'.repeat(2 * 1024 * 1024), '"}']), 413, 'payload_too_large'));
      it('a declared content-length over the size limit', () =>
        expectNothingDone(() => send('/api/branches', ['{}'], 5 * 1024 * 1024), 413, 'payload_too_large'));
    });
    it('a child whose parent does not exist', () =>
      expectNothingDone(() => call('/api/customers', jsonRequest('POST', { id: 'C-ORPHAN', name: 'x', branchId: 'NOPE' })), 422, 'branch NOPE does not exist'));
  });

  it('stores kWh rounded half-up to 0.001 and reads it back as exact decimal text', async () => {
    const { status, body } = await call('/api/meter-readings?wait=10000', jsonRequest('POST', { id: 'R-2', contractId: 'K-R', readOn: '2024-02-01', kwh: 7.098000000000001, meterIndex: '12.3455', halfHours: 46 }));
    expect(status).toBe(201);
    expect(body['row']).toEqual({ id: 'R-2', contractId: 'K-R', readOn: '2024-02-01', kwh: '7.098', meterIndex: '12.346', halfHours: 46, region: 'TP1' });
  });

  it('lists across regions in global id order with a keyset cursor', async () => {
    for (const [id, region] of [['L-1', 'TP3'], ['L-2', 'TP1'], ['L-3', 'TP2'], ['L-4', 'TP3'], ['L-5', 'TP1']] as const) {
      await call('/api/branches', jsonRequest('POST', { id, name: id, region }));
    }
    expect(await waitForDrain(gw.deps.queues, 30_000)).toBe(0);
    const page1 = await call('/api/branches?cursor=L-&limit=2');
    expect(page1.body['items'].map((r: any) => r.id)).toEqual(['L-1', 'L-2']);
    expect(page1.body['partial']).toBe(false);
    const page2 = await call(`/api/branches?cursor=${page1.body['nextCursor']}&limit=2`);
    expect(page2.body['items'].map((r: any) => r.id)).toEqual(['L-3', 'L-4']);
    const tp3 = await call('/api/branches?region=TP3&cursor=L-&limit=10');
    expect(tp3.body['items'].map((r: any) => r.id)).toEqual(['L-1', 'L-4']);
    const byBranch = await call('/api/customers?branchId=B-HOT');
    expect(byBranch.body['items'].map((r: any) => r.id)).toEqual(['C-HOT']);
    expect((await call('/api/branches?region=TP7')).status).toBe(400);
  });

  it('a delete the site refuses (the branch still has customers) fails with the reason and leaves the branch readable', async () => {
    const del = await call('/api/branches/B-HOT?wait=10000', { method: 'DELETE' });
    expect(del.status).toBe(422);
    expect(del.body).toMatchObject({ state: 'failed', error: { code: 'op_failed' } });
    expect(del.body.error.message).toContain('has_children');
    expect((await call(`/api/ops/${del.body.opId}`)).body).toMatchObject({ state: 'failed' });
    expect((await call('/api/branches/B-HOT')).body).toMatchObject({ id: 'B-HOT', name: 'Hot' });
    expect((await call('/api/branches', jsonRequest('POST', { id: 'B-HOT', name: 'again', region: 'TP3' }))).status).toBe(409);
    expect((await call('/api/customers?branchId=B-HOT&region=TP1')).status).toBe(400);
  });

  it('deletes: the row goes from both copies and the id answers 404', async () => {
    await call('/api/branches', jsonRequest('POST', { id: 'B-DEL', name: 'Del', region: 'TP2' }));
    const del = await call('/api/branches/B-DEL?wait=10000', { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.body['state']).toBe('replicated');
    expect(await env.sql('db2', `SELECT id FROM branch WHERE id = 'B-DEL'`)).toEqual([]);
    expect(await env.sql('db4', `SELECT id FROM branch WHERE id = 'B-DEL'`)).toEqual([]);
    expect((await call('/api/branches/B-DEL')).status).toBe(404);
    expect((await call('/api/branches/B-DEL', jsonRequest('PATCH', { name: 'again' }))).status).toBe(404);
  });

  it('journals exactly one op per accepted write on each copy, and verify finds the copies equal', async () => {
    expect(await waitForDrain(gw.deps.queues, 60_000)).toBe(0);
    const counts = await journalCount();
    // Every accepted op (the refused delete included) is journaled once on its serving copy; the
    // refused delete, journaled there as failed, is not replicated.
    expect(counts.primaries).toBe(accepted.size);
    expect(counts.backup).toBe(accepted.size - 1);
    const report = await verifyCluster(env.stores, gw.deps.queues);
    expect(report.result).toBe('equal');
  });

  it('GET /healthz is 200 with every part up, /api/status shows routes and queues', async () => {
    const h = await call('/healthz');
    expect(h).toEqual({ status: 200, body: { ok: true } });
    const s = await call('/api/status');
    expect(s.body['routes']['TP2']).toMatchObject({ site: 'db2', epoch: 1 });
    expect(s.body['queues']).toEqual({ TP1: { apply: 0, replicationBacklog: 0 }, TP2: { apply: 0, replicationBacklog: 0 }, TP3: { apply: 0, replicationBacklog: 0 } });
    expect(s.body['workers']).toHaveLength(1);
  });
});
