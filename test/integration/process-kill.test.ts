/**
 * Kills of real processes (each test on a fresh cluster of its own): the worker process in the
 * middle of an import, and Redis in the middle of a write load. Nothing accepted may be lost or
 * applied twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { PLACEMENT, REGIONS, type Region } from '../../src/domain/fragmentation.js';
import { formatMilliKwh } from '../../src/domain/kwh.js';
import { verifyCluster } from '../../src/verify/verify.js';
import { faultClusterPorts } from '../support/ports.js';
import { killProc, postJson, startProcessCluster, type ProcessCluster } from '../support/processes.js';

let pc: ProcessCluster | undefined;
afterEach(async () => {
  await pc?.close();
  pc = undefined;
});

/** Three branches, and two customers and contracts per region. */
async function seedParents(base: string): Promise<Record<Region, string[]>> {
  const contracts: Record<Region, string[]> = { TP1: [], TP2: [], TP3: [] };
  const branches = REGIONS.map((r) => ({ id: `B-${r}`, name: `Branch ${r}`, region: r }));
  expect((await postJson(`${base}/api/branches/batch`, { items: branches })).status).toBe(202);
  const customers = REGIONS.flatMap((r) => [1, 2].map((i) => ({ id: `C-${r}-${i}`, name: `Customer ${r} ${i}`, branchId: `B-${r}` })));
  expect((await postJson(`${base}/api/customers/batch`, { items: customers })).status).toBe(202);
  const ks = REGIONS.flatMap((r) => [1, 2].map((i) => ({ id: `K-${r}-${i}`, customerId: `C-${r}-${i}`, signedOn: '2024-01-01', meterSerial: `M-${r}-${i}` })));
  expect((await postJson(`${base}/api/contracts/batch`, { items: ks })).status).toBe(202);
  for (const k of ks) contracts[k.id.slice(2, 5) as Region].push(k.id);
  return contracts;
}

async function waitDrained(base: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const s = (await (await fetch(`${base}/api/status`)).json()) as { queues: Record<string, { apply: number; replicationBacklog: number }> | null };
      if (s.queues && Object.values(s.queues).every((q) => q.apply === 0 && q.replicationBacklog === 0)) return;
    } catch {
      // gateway or Redis restarting
    }
    await sleep(250);
  }
  throw new Error(`queues did not drain in ${timeoutMs} ms`);
}

describe('process kills', () => {
  it('SIGKILL of the worker process in the middle of an import loses and duplicates no reading', async () => {
    pc = await startProcessCluster('kill-workers', faultClusterPorts(0));
    await pc.waitHealthy();
    const contracts = await seedParents(pc.baseUrl);
    // 6 contracts x 400 days = 2,400 readings; kWh = (day % 17) + 0.125.
    const readings = REGIONS.flatMap((r) =>
      contracts[r].flatMap((k) =>
        Array.from({ length: 400 }, (_, d) => ({ id: `R-${k}-${d}`, contractId: k, readOn: new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10), kwh: `${d % 17}.125` })),
      ),
    );
    const expected: Record<Region, { n: number; milli: bigint }> = { TP1: { n: 0, milli: 0n }, TP2: { n: 0, milli: 0n }, TP3: { n: 0, milli: 0n } };
    for (const r of readings) {
      const region = r.contractId.slice(2, 5) as Region;
      expected[region].n++;
      expected[region].milli += BigInt(Math.round(Number(r.kwh) * 1000));
    }
    let acceptedOps = 3 + 6 + 6;
    for (let i = 0; i < readings.length; i += 100) {
      if (i === 800) {
        await killProc(pc.workers, 'SIGKILL');
      }
      const res = await postJson(`${pc.baseUrl}/api/meter-readings/batch`, { items: readings.slice(i, i + 100) });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(100);
      acceptedOps += res.body.accepted;
    }
    // Workers down: /healthz names them once the heartbeat expires.
    let health: { status: number; body: any } = { status: 0, body: null };
    for (let i = 0; i < 50 && health.status !== 503; i++) {
      const res = await fetch(`${pc.baseUrl}/healthz`);
      health = { status: res.status, body: await res.json() };
      if (health.status !== 503) await sleep(200);
    }
    expect(health.status).toBe(503);
    expect(JSON.stringify(health.body.missing)).toContain('workers');

    pc.startWorkers();
    await pc.waitHealthy();
    await waitDrained(pc.baseUrl, 240_000);
    for (const region of REGIONS) {
      const { primary, backup } = PLACEMENT[region];
      const want = { region, readings: expected[region].n, kwh: formatMilliKwh(expected[region].milli) };
      expect(await pc.stores[primary].consumption([region])).toEqual([want]);
      expect(await pc.stores[backup].consumption([region])).toEqual([want]);
    }
    const journal = await Promise.all((['db1', 'db2', 'db3', 'db4'] as const).map((s) => pc!.stores[s].journalCount()));
    expect(journal[0]! + journal[1]! + journal[2]!).toBe(acceptedOps);
    expect(journal[3]).toBe(acceptedOps);
    expect((await verifyCluster(pc.stores, undefined)).result).toBe('equal');
  }, 300_000);

  it('SIGKILL of Redis: the gateway answers 503 at once while it is down, and no accepted write is lost', async () => {
    pc = await startProcessCluster('kill-redis', faultClusterPorts(1));
    await pc.waitHealthy();
    const contracts = await seedParents(pc.baseUrl);
    const all = REGIONS.flatMap((r) => contracts[r]);
    const acceptedIds: string[] = [];
    const downAnswers: Array<{ status: number; ms: number }> = [];
    let redisDown = false;
    let stop = false;
    let n = 0;
    const client = async () => {
      while (!stop) {
        const i = n++;
        const k = all[i % all.length]!;
        try {
          const res = await postJson(`${pc!.baseUrl}/api/meter-readings`, { id: `R-${i}`, contractId: k, readOn: '2024-03-01', kwh: '1.5' }, 5000);
          if (res.status === 202) acceptedIds.push(res.body.opId);
          else if (redisDown) downAnswers.push({ status: res.status, ms: res.ms });
          else expect.fail(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
        } catch (err) {
          if (redisDown) downAnswers.push({ status: 0, ms: 5000 });
          else throw err;
        }
        if (redisDown) await sleep(20);
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await sleep(1500);
    const before = acceptedIds.length;
    const redisPid = pc.cluster.redisPid()!;
    redisDown = true;
    process.kill(redisPid, 'SIGKILL');
    await sleep(3000);
    await pc.cluster.startRedis();
    await pc.waitHealthy(60_000);
    redisDown = false;
    await sleep(1500);
    stop = true;
    await Promise.all(clients);
    expect(before).toBeGreaterThan(0);
    expect(acceptedIds.length).toBeGreaterThan(before);
    const whileDown = downAnswers.filter((a) => a.status !== 202);
    expect(whileDown.length).toBeGreaterThan(0);
    // Every answer while Redis was down was a fast 503 (no hang).
    expect(whileDown.every((a) => a.status === 503)).toBe(true);
    expect(Math.max(...whileDown.map((a) => a.ms))).toBeLessThan(2500);

    await waitDrained(pc.baseUrl, 240_000);
    const ids = acceptedIds;
    for (const region of REGIONS) {
      const { primary, backup } = PLACEMENT[region];
      const mine = ids.filter((id) => id.startsWith(region));
      const [p, b] = await Promise.all([pc.stores[primary].journalEntries(mine), pc.stores[backup].journalEntries(mine)]);
      expect(p.length).toBe(mine.length);
      expect(b.length).toBe(mine.length);
    }
    expect((await verifyCluster(pc.stores, undefined)).result).toBe('equal');
  }, 300_000);
});
