/**
 * `npm run test:faults`: failover, failback and fencing under a steady write load over the three
 * regions, each scenario on a fresh cluster of its own, killing real processes (only the pids of
 * servers this test started, read from their own pid files). Time bounds are generous; the
 * measured failover time is printed.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_QUEUE } from '../../queues/catalog.js';
import { PLACEMENT, REGIONS, type Region, type SiteId } from '../../src/domain/fragmentation.js';
import { verifyCluster } from '../../src/verify/verify.js';
import { faultClusterPorts } from '../support/ports.js';
import { killProc, startProcessCluster, type ProcessCluster } from '../support/processes.js';
import { seedRegions, startWriteLoad, type AcceptedOp, type WriteLoad } from '../support/write-load.js';

let pc: ProcessCluster | undefined;
let load: WriteLoad | undefined;
const stoppedGroups: number[] = [];

afterEach(async () => {
  for (const g of stoppedGroups.splice(0)) {
    try {
      process.kill(-g, 'SIGCONT');
    } catch {
      // gone already
    }
  }
  await load?.stop();
  load = undefined;
  await pc?.close();
  pc = undefined;
});

async function status(base: string): Promise<any> {
  return (await fetch(`${base}/api/status`)).json();
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  const tail = pc ? `\n--- workers (last lines):\n${pc.workers.output.join('').split('\n').slice(-40).join('\n')}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${tail}`);
}

async function route(base: string, region: Region): Promise<{ site: SiteId; epoch: number }> {
  const s = await status(base);
  return s.routes[region];
}

async function drained(base: string, timeoutMs = 180_000): Promise<void> {
  await waitFor('queues to drain', timeoutMs, async () => {
    const s = await status(base);
    return s.queues && Object.values(s.queues as Record<string, { apply: number; replicationBacklog: number }>).every((q) => q.apply === 0 && q.replicationBacklog === 0);
  });
}

/** Every recorded op is journaled exactly once on both copies of its region (the journal's key is the op id). */
async function expectAllOpsOnBothCopies(cluster: ProcessCluster, ops: AcceptedOp[]): Promise<void> {
  for (const region of REGIONS) {
    const mine = ops.filter((o) => o.region === region).map((o) => o.opId);
    const { primary, backup } = PLACEMENT[region];
    const [p, b] = await Promise.all([cluster.stores[primary].journalEntries(mine), cluster.stores[backup].journalEntries(mine)]);
    expect({ region, primary: p.length, backup: b.length }).toEqual({ region, primary: mine.length, backup: mine.length });
    const rows = await cluster.stores[primary].list('meterReading', { region, limit: 1000, afterId: `L-${region}-` });
    expect(rows.length).toBeGreaterThan(0);
  }
}

/** Per-second counts of a region's ops applied on a site in [from, to) (from its journal). */
async function appliedPerSecond(cluster: ProcessCluster, site: SiteId, region: Region, from: number, to: number): Promise<number[]> {
  const client = new pg.Client({ connectionString: cluster.cluster.siteUrl(site) });
  await client.connect();
  try {
    const res = await client.query(
      `SELECT floor(extract(epoch FROM applied_at) - $2::double precision)::int AS s, count(*)::int AS n
         FROM op_journal WHERE region = $1 AND applied_at >= to_timestamp($2) AND applied_at < to_timestamp($3) GROUP BY 1 ORDER BY 1`,
      [region, from / 1000, to / 1000],
    );
    const out = new Array(Math.ceil((to - from) / 1000)).fill(0) as number[];
    for (const r of res.rows) out[r.s] = r.n;
    return out;
  } finally {
    await client.end();
  }
}

/** First instant (ms) a region's op was applied on `site` under an epoch >= `epoch` as the serving copy. */
async function firstServedOn(cluster: ProcessCluster, site: SiteId, region: Region, epoch: number): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: cluster.cluster.siteUrl(site) });
  await client.connect();
  try {
    const res = await client.query(`SELECT min(applied_at) AS t FROM op_journal WHERE region = $1 AND epoch >= $2`, [region, epoch]);
    return res.rows[0].t ? new Date(res.rows[0].t).getTime() : undefined;
  } finally {
    await client.end();
  }
}

async function startLoaded(name: string, slot: number): Promise<ProcessCluster> {
  pc = await startProcessCluster(name, faultClusterPorts(slot), { LOG_LEVEL: 'info' });
  await pc.waitHealthy();
  await seedRegions(pc.baseUrl);
  load = startWriteLoad(pc.baseUrl);
  await sleep(1500);
  return pc;
}

async function verifyEqual(cluster: ProcessCluster): Promise<void> {
  const report = await verifyCluster(cluster.stores, undefined, { drainTimeoutMs: 0 });
  expect({ result: report.result, differing: report.tables.filter((t) => !t.equal).map((t) => `${t.region} ${t.table}`) }).toEqual({ result: 'equal', differing: [] });
}

/** The end of every scenario: nothing lost, nothing twice: the queues drain, the copies are equal, every accepted op is journaled once on both. */
async function expectNothingLost(c: ProcessCluster): Promise<void> {
  await drained(c.baseUrl);
  await verifyEqual(c);
  await expectAllOpsOnBothCopies(c, load!.accepted);
}

describe('failover and failback', () => {
  it('SIGKILL of db2: TP2 moves to db4 in seconds, TP1/TP3 never stop, failback by itself, nothing lost', async () => {
    const c = await startLoaded('fault-kill-db2', 10);
    const pid = c.cluster.sitePid('db2')!;
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const after = await waitFor('TP2 to fail over to db4', 30_000, async () => {
      const r = await route(c.baseUrl, 'TP2');
      return r.site === 'db4' && r;
    });
    expect(after.epoch).toBe(2);
    const first = await waitFor('a TP2 write applied on db4', 30_000, () => firstServedOn(c, 'db4', 'TP2', after.epoch));
    const failoverMs = first - t0;
    process.stdout.write(`\n  measured failover time (SIGKILL of db2 -> first TP2 write applied on db4): ${failoverMs} ms\n`);
    expect(failoverMs).toBeLessThan(15_000);

    // Status during the failover: the route, the epoch, each site's health, the backlog for db2.
    await sleep(1000);
    const s = await status(c.baseUrl);
    expect(s.regions.TP2).toMatchObject({ state: 'failed-over', serving: 'db4', primary: 'db2', epoch: 2 });
    expect(s.regions.TP2.backlogForPrimary).toBeGreaterThan(0);
    expect(s.health.db2.up).toBe(false);
    expect(s.health.db1.up).toBe(true);
    expect(s.routeHistory[0]).toMatchObject({ region: 'TP2', from: 'db2', to: 'db4', epoch: 2, kind: 'failover' });

    // TP1 and TP3 kept applying every second around the kill.
    const window = [t0 - 2000, t0 + 6000] as const;
    await sleep(Math.max(0, window[1] + 500 - Date.now())); // count only seconds that are over
    for (const [region, site] of [['TP1', 'db1'], ['TP3', 'db3']] as const) {
      const perSecond = await appliedPerSecond(c, site, region, ...window);
      process.stdout.write(`  ${region} ops applied per second on ${site} from 2 s before the kill: ${perSecond.join(' ')}\n`);
      expect({ region, stalledSeconds: perSecond.filter((n) => n === 0).length }).toEqual({ region, stalledSeconds: 0 });
    }

    // db2 returns: the resync catches it up and routes back by itself.
    await c.cluster.startSite('db2');
    const back = await waitFor('TP2 to fail back to db2', 60_000, async () => {
      const r = await route(c.baseUrl, 'TP2');
      return r.site === 'db2' && r;
    });
    expect(back.epoch).toBe(3);
    await sleep(1000);
    await load!.stop();
    await expectNothingLost(c);
    expect(load!.refused).toEqual([]);
  });

  it('SIGSTOP of db2 (a hung server): same outcome, no job waits forever', async () => {
    const c = await startLoaded('fault-stop-db2', 11);
    const pid = c.cluster.sitePid('db2')!;
    // PostgreSQL puts each child process (backend, checkpointer…) in a process group of its own
    // (setsid), so the server is the postmaster's group plus each child's.
    const children = execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').map(Number);
    const groups = [pid, ...children].map((p) => Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(p)]).toString().trim()));
    expect(groups.every((g) => g > 1)).toBe(true);
    const t0 = Date.now();
    for (const g of new Set(groups)) {
      stoppedGroups.push(g);
      process.kill(-g, 'SIGSTOP');
    }
    const after = await waitFor('TP2 to fail over to db4', 30_000, async () => {
      const r = await route(c.baseUrl, 'TP2');
      return r.site === 'db4' && r;
    });
    const first = await waitFor('a TP2 write applied on db4', 60_000, () => firstServedOn(c, 'db4', 'TP2', after.epoch));
    process.stdout.write(`\n  measured failover time (SIGSTOP of db2 -> first TP2 write applied on db4): ${first - t0} ms\n`);
    expect(first - t0).toBeLessThan(30_000);
    for (const g of stoppedGroups.splice(0)) process.kill(-g, 'SIGCONT');
    await waitFor('TP2 to fail back to db2', 90_000, async () => (await route(c.baseUrl, 'TP2')).site === 'db2');
    await sleep(1000);
    await load!.stop();
    await expectNothingLost(c);
  });

  it('SIGKILL of db4 for 10 s: no region stops writing, the backup catches up by itself', async () => {
    const c = await startLoaded('fault-kill-db4', 12);
    const t0 = Date.now();
    process.kill(c.cluster.sitePid('db4')!, 'SIGKILL');
    await sleep(4000);
    const s = await status(c.baseUrl);
    expect(REGIONS.map((r) => s.regions[r].state)).toEqual(['primary', 'primary', 'primary']);
    expect(REGIONS.reduce((n, r) => n + s.queues[r].replicationBacklog, 0)).toBeGreaterThan(0);
    await sleep(Math.max(0, t0 + 9500 - Date.now())); // count only seconds that are over
    for (const region of REGIONS) {
      const perSecond = await appliedPerSecond(c, PLACEMENT[region].primary, region, t0, t0 + 9000);
      process.stdout.write(`  ${region} ops applied per second on ${PLACEMENT[region].primary} while db4 was down: ${perSecond.join(' ')}\n`);
      expect({ region, stalledSeconds: perSecond.filter((n) => n === 0).length }).toEqual({ region, stalledSeconds: 0 });
    }
    await c.cluster.startSite('db4');
    await sleep(1500);
    await load!.stop();
    await expectNothingLost(c);
  });

  it('restarting the worker processes 20 times in 10 s while db2 dies: one probe scheduler, one failover', async () => {
    const c = await startLoaded('fault-restarts', 13);
    for (let i = 0; i < 20; i++) {
      await killProc(c.workers, 'SIGKILL');
      c.startWorkers();
      if (i === 10) process.kill(c.cluster.sitePid('db2')!, 'SIGKILL');
      await sleep(500);
    }
    await c.waitHealthy().catch(() => undefined);
    await waitFor('TP2 to fail over', 60_000, async () => (await route(c.baseUrl, 'TP2')).site === 'db4');
    await sleep(3000);
    const redis = new Redis(c.cluster.redisUrl);
    const probe = new Queue(PROBE_QUEUE, { connection: redis, prefix: c.config.prefix });
    try {
      const schedulers = await probe.getJobSchedulers();
      expect(schedulers.map((j) => j.key ?? j.id)).toEqual(['probe-sites']);
    } finally {
      await probe.close();
      redis.disconnect();
    }
    const s = await status(c.baseUrl);
    const failovers = (s.routeHistory as Array<{ region: string; kind: string }>).filter((h) => h.region === 'TP2' && h.kind === 'failover');
    expect(failovers).toHaveLength(1);
    await c.cluster.startSite('db2');
    await waitFor('TP2 to fail back', 90_000, async () => (await route(c.baseUrl, 'TP2')).site === 'db2');
    await load!.stop();
    await expectNothingLost(c);
  });

  it('SIGKILL of Redis for 10 s: the gateway answers 503 at once, workers resume, no recorded op is lost', async () => {
    const c = await startLoaded('fault-kill-redis', 14);
    const killAt = Date.now();
    process.kill(c.cluster.redisPid()!, 'SIGKILL');
    await sleep(10_000);
    const restartAt = Date.now();
    await c.cluster.startRedis();
    await c.waitHealthy(60_000);
    await sleep(2000);
    await load!.stop();
    const whileDown = load!.refused.filter((r) => r.at >= killAt && r.at < restartAt);
    expect(whileDown.length).toBeGreaterThan(10);
    expect(new Set(whileDown.map((r) => r.status))).toEqual(new Set([503]));
    expect(Math.max(...whileDown.map((r) => r.ms))).toBeLessThan(2500);
    expect(load!.accepted.filter((a) => a.at > restartAt).length).toBeGreaterThan(0);
    await expectNothingLost(c);
  });

  it('a primary that returns missing ops no journal holds stays fenced as needs-recovery', async () => {
    const c = await startLoaded('fault-fence', 15);
    process.kill(c.cluster.sitePid('db2')!, 'SIGKILL');
    await waitFor('TP2 to fail over', 30_000, async () => (await route(c.baseUrl, 'TP2')).site === 'db4');
    await sleep(1000);
    // Restored from an old dump, and the journal that would have told the difference is gone
    // (past retention): empty db2's TP2 rows, and purge db4's TP2 journal.
    await c.cluster.startSite('db2');
    const db2 = new pg.Client({ connectionString: c.cluster.siteUrl('db2') });
    await db2.connect();
    await db2.query(`DELETE FROM meter_reading WHERE region = 'TP2'; DELETE FROM op_journal WHERE region = 'TP2' AND entity = 'meterReading'`);
    await db2.end();
    const db4 = new pg.Client({ connectionString: c.cluster.siteUrl('db4') });
    await db4.connect();
    await db4.query(`DELETE FROM op_journal WHERE region = 'TP2' AND entity = 'meterReading'`);
    await db4.end();
    const s = await waitFor('TP2 to be fenced', 60_000, async () => {
      const st = await status(c.baseUrl);
      return st.regions.TP2.state === 'needs-recovery' && st;
    });
    expect(s.regions.TP2).toMatchObject({ state: 'needs-recovery', serving: 'db4', fence: { site: 'db2', state: 'needs-recovery' } });
    await sleep(3000);
    expect((await route(c.baseUrl, 'TP2')).site).toBe('db4');
  });
});
